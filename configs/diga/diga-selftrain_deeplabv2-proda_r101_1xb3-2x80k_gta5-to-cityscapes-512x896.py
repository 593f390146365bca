# DiGA self-training on GTA5 -> Cityscapes (arXiv:2304.02222; configs/diga/README.md), from the
# warm-up (load_from: student and teacher): two rounds of 80k iterations (round 2 relabels with the
# round-1 model: the refined self-training), offline labels of the student at full + half
# resolution fused by max, prototypes from 5 passes over the target train images, dynamic
# prototype-consensus selection, source CE + 0.25 KD (beta 0.3) + CE on the ClassMix of source
# classes onto 0.3 Aug(x_t) + 0.7 x_t. Validated every 1000 iterations (best-mIoU checkpoint kept:
# DiGA's oracle selection, reported beside the last).
_base_ = [
    '../_base_/models/deeplabv2-proda_r101.py', '../_base_/methods/diga_selftrain.py',
    '../_base_/datasets/diga_gta5_to_cityscapes_512x896.py', '../_base_/default_runtime.py',
    '../_base_/schedules/diga_sgd_poly.py'
]
round_iters = 80000
model = dict(_base_.method_model, _delete_=True,
             student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896))))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
train_dataloader = dict(
    persistent_workers=False,  # rebuilt every round
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
