# DiGA self-training on SYNTHIA -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): as the
# GTA5 config with SYNTHIA's OHEM CE (threshold 0.7, min kept 100k) on the source and mixed images,
# its photometric settings (jitter p 0.7, grayscale p 0.1), lambda_KD 0.25.
_base_ = [
    '../_base_/models/deeplabv2-proda_r101.py', '../_base_/methods/diga_selftrain.py',
    '../_base_/datasets/diga_synthia_to_cityscapes_512x896.py', '../_base_/default_runtime.py',
    '../_base_/schedules/diga_sgd_poly.py'
]
round_iters = 80000
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896)),
                 decode_head=dict(_base_.model.decode_head,
                                  sampler=dict(type='OHEMPixelSampler', thresh=0.7,
                                               min_kept=100000))),
    mixture=dict(_base_.method_model.mixture,
                 augment=dict(type='PhotometricAugment', jitter_p=0.7, grayscale_p=0.1)))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
train_dataloader = dict(
    persistent_workers=False,
    dataset=dict(target=_base_.diga_cityscapes_selftrain_dataset))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters, round_iters],
    val_interval=1000,
    label_dataloader=_base_.diga_cityscapes_full_res_dataloader,
    label_tta=_base_.label_tta)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=1000, by_epoch=False),
    dict(type='PolyLR', eta_min=0., power=0.9, begin=1000, end=2 * round_iters, by_epoch=False)
]
default_hooks = dict(
    _base_.method_hooks,
    prototype_init=dict(_base_.method_hooks.prototype_init,
                        dataloader=_base_.diga_cityscapes_full_res_dataloader))
