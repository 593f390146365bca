# AdvEnt (Vu et al., CVPR 2019, arXiv:1811.12833), UDA: a fully convolutional discriminator tells
# source from target by the weighted self-information maps (-p log p / log C) of the segmentation
# output; the segmenter learns to fool it on target images (lambda_adv 0.001, BCE) beside the
# supervised source loss. Two optimisers, segmenter and discriminator: see
# ../schedules/adversarial_*.py (the paper's: SGD 2.5e-4 / Adam 1e-4 betas (0.9, 0.99), poly 0.9).
# Use (see ./tent.py for the pattern):
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
method_model = dict(
    type='AdversarialSegmentor',
    setting='uda',
    discriminator=dict(type='FCDiscriminator', channels=64),
    input_space='entropy',
    gan_mode='bce',
    lambda_adv=(0.001, ))
