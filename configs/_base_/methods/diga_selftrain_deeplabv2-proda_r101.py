# DiGA self-training (./diga_selftrain.py) with DeepLabV2-ResNet-101 + the ProDA head
# (../models/deeplabv2-proda_r101.py) on 512x896 crops: two rounds of 80k iterations
# (SelfTrainingLoop; round 2 relabels with the round-1 model), DiGA's SGD
# (../schedules/diga_sgd_poly.py) with a 1000-iteration warm-up then poly over both rounds,
# validated every 1000 iterations. Without the data: a config adds the (source, Cityscapes) pairs
# with the offline-label target set and the full-resolution dataloader of the loop's labelling
# pass (train_cfg.label_dataloader) and of PrototypeInitHook (default_hooks.prototype_init
# .dataloader, None here: replace it with `_delete_`); ../datasets/diga_cityscapes_512x896.py has
# both.
_base_ = [
    '../models/deeplabv2-proda_r101.py', './diga_selftrain.py', '../default_runtime.py',
    '../schedules/diga_sgd_poly.py'
]
round_iters = 80000
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896))))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters, round_iters],
    val_interval=1000,
    label_tta=_base_.label_tta)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1000, by_epoch=False),
    dict(type='PolyLR', eta_min=0., power=0.9, begin=1000, end=2 * round_iters, by_epoch=False)
]
default_hooks = dict(_base_.method_hooks)
