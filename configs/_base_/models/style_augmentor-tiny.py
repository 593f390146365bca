# A CPU-sized StyleAugmentor for the toy benchmark and the tests: the published layout at 1/8
# width (transformer 4-8-16 channels, one residual block) and a 1/16-width Inception predictor,
# WITHOUT weights (weights=None: seeded random networks, N(0, I) styles). It exercises the learned
# view's code path; it is not the paper's style augmentation (that is ./style_augmentor.py).
style_augmentor_view = dict(
    type='StyleAugmentor',
    transformer=dict(channels=(4, 8, 16), num_res_blocks=1),
    predictor=dict(width=1 / 16),
    alpha=0.5,
    downsamples=0,
    weights=None)
