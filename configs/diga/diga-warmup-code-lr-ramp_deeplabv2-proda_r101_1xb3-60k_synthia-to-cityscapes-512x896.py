# The public SYNTHIA warm-up's lr schedule, kept as a named option: its warm-up lr function gets
# its arguments shifted by position, so the lr ramps linearly from 0 to 2.5e-4 over the whole 60k
# iterations (no poly decay). The default config uses the intended warm-up + poly.
_base_ = ['./diga-warmup_deeplabv2-proda_r101_1xb3-60k_synthia-to-cityscapes-512x896.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, begin=0, end=60000, by_epoch=False)
]
