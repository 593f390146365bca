# UPLR (Wang et al., ICCV 2021, "Uncertainty-aware Pseudo Label Refinery"), stage 1 "AA", UDA:
# AdvEnt's output-space adversarial alignment (FCDiscriminator on the weighted self-information
# maps, lambda_adv 0.001, BCE, two optimisers: see ../schedules/adversarial_*.py) with
#   IT   - image translation: FDA on the source images (beta 0.01), the paper's is BDL-style [U];
#   SR   - soft-balance sampling of source images toward the target's uncertain classes S_k
#          (SoftBalanceSampler in the train dataloader; a config sets it, see configs/uplr/);
#   TGAA - the adversarial term rectified per pixel toward uncertain classes
#          (rectifier='ratio': I^y / mean I; 'top_k': 1 + [y in S_k]) [U].
# ClassUncertaintyHook computes I^c and S_k on the target train set at the start of the stage
# (normalised entropy, mean per predicted class, top_k = 5 [U]) and hands them to both.
# A config sets method_hooks.class_uncertainty.dataloader to its target set (test pipeline).
method_model = dict(
    type='UPLRSegmentor',
    setting='uda',
    discriminator=dict(type='FCDiscriminator', channels=64),
    input_space='entropy',
    gan_mode='bce',
    lambda_adv=(0.001, ),
    top_k=5,
    rectifier='ratio',
    style_transfer=dict(type='FDA', beta=0.01))
method_hooks = dict(class_uncertainty=dict(type='ClassUncertaintyHook', dataloader=None))
# UPLR's sampling (poster formula U2): lam, alpha, mu are [U]; floor 0.1 is the poster's.
soft_balance_sampler = dict(type='SoftBalanceSampler', lam=0.5, alpha=10.0, mu=None, floor=0.1)
