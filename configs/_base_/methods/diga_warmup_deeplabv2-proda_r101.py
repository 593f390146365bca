# DiGA warm-up (./diga_warmup.py) with DeepLabV2-ResNet-101 + the ProDA head
# (../models/deeplabv2-proda_r101.py) on 512x896 crops and DiGA's schedule
# (../schedules/diga_sgd_poly.py: 80k iterations, 1000-iteration warm-up then poly), without the
# data: a config adds a (source, Cityscapes) pair dataset (../datasets/diga_*_512x896.py).
_base_ = [
    '../models/deeplabv2-proda_r101.py', './diga_warmup.py', '../default_runtime.py',
    '../schedules/diga_sgd_poly.py'
]
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896))))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
default_hooks = dict(_base_.method_hooks)
