# DiGA warm-up on SYNTHIA -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): 60k
# iterations, lambda_KD 0.25, OHEM CE (threshold 0.7, at least 100k pixels kept), the SYNTHIA
# photometric settings (jitter p 0.7, grayscale p 0.1), the intended 1000-iteration lr warm-up
# then poly (the public script's ramp over the whole run: *_code-lr-ramp_* config).
_base_ = [
    '../_base_/models/deeplabv2-proda_r101.py', '../_base_/methods/diga_warmup.py',
    '../_base_/datasets/diga_synthia_to_cityscapes_512x896.py', '../_base_/default_runtime.py',
    '../_base_/schedules/diga_sgd_poly.py'
]
max_iters = 60000
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896)),
                 decode_head=dict(_base_.model.decode_head,
                                  sampler=dict(type='OHEMPixelSampler', thresh=0.7,
                                               min_kept=100000))),
    mixture=dict(_base_.method_model.mixture,
                 augment=dict(type='PhotometricAugment', jitter_p=0.7, grayscale_p=0.1)),
    distill_loss=dict(_base_.method_model.distill_loss, loss_weight=0.25))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1000, by_epoch=False),
    dict(type='PolyLR', eta_min=0., power=0.9, begin=1000, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(_base_.method_hooks)
