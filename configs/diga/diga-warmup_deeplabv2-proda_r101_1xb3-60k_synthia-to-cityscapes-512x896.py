# DiGA warm-up on SYNTHIA -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): 60k
# iterations, lambda_KD 0.25, OHEM CE (threshold 0.7, at least 100k pixels kept), the SYNTHIA
# photometric settings (jitter p 0.7, grayscale p 0.1), the intended 1000-iteration lr warm-up
# then poly (the public script's ramp over the whole run: *_code-lr-ramp_* config).
_base_ = [
    '../_base_/methods/diga_warmup_deeplabv2-proda_r101.py',
    '../_base_/datasets/diga_synthia_to_cityscapes_512x896.py'
]
max_iters = 60000
model = dict(
    student=dict(decode_head=dict(
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000))),
    mixture=dict(augment=dict(jitter_p=0.7, grayscale_p=0.1)),
    distill_loss=dict(loss_weight=0.25))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1000, by_epoch=False),
    dict(type='PolyLR', eta_min=0., power=0.9, begin=1000, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters)
