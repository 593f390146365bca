# AdaptSegNet (Tsai et al., CVPR 2018, arXiv:1802.10349), UDA: output-space adversarial learning on
# softmax probabilities at two levels, the decode head (lambda_adv 0.001) and an auxiliary
# DeepLabV2 classifier on layer 3 (lambda_adv 0.0002; its source CE weighs 0.1, set in the
# auxiliary head's loss), one discriminator per level. The student needs an `auxiliary_head` on the
# layer-3 features. Optimisers as AdvEnt: ../schedules/adversarial_*.py.
method_model = dict(
    type='AdversarialSegmentor',
    setting='uda',
    discriminator=dict(type='FCDiscriminator', channels=64),
    input_space='softmax',
    gan_mode='bce',
    multi_level=True,
    lambda_adv=(0.001, 0.0002))
