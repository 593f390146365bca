# ATP step P, information Propagation (../_base_/methods/atp_propagate.py) on GTA5 -> Cityscapes
# with DeepLabV2-ResNet-101: entropy split of Cityscapes train (lambda 0.3) by the Teach model,
# then 40k iterations (the public code's) of easy -> hard ClassMix and prototype contrast from
# iteration 1500 on layer4 (2048 channels -> 512), EMA alpha 0.999, batch 2 pairs; SGD from the
# adaptation schedule.
# Run: tools/train.py CONFIG --cfg-options load_from=<Teach checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/atp_propagate.py',
    '../_base_/datasets/cityscapes_512x512_target_easy_hard.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
num_classes = 19
max_iters = 40000
model = dict(
    _base_.method_model, _delete_=True, student=_base_.model,
    aux=dict(proj_head=dict(_base_.method_model.aux.proj_head, in_channels=2048),
             prototypes=dict(_base_.method_model.aux.prototypes, num_classes=num_classes)))
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=4000))
model_wrapper_cfg = _base_.method_model_wrapper_cfg
train_cfg = dict(
    _delete_=True,
    type='EntropySplitLoop',
    max_iters=max_iters,
    val_interval=4000,
    easy_ratio=0.3,
    rank_dataloader={{_base_.cityscapes_rank_dataloader}})
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
