# UPLR stage 2 (../_base_/methods/uplr_s2.py: GMM pseudo-labels, UPST) on Cityscapes after GTA5:
# three self-training rounds of 5k iterations ([U]: the poster gives no schedule), SGD 2.5e-4
# poly, labels of each round by the model after the previous one (round 0: stage 1's).
# --cfg-options load_from=<stage-1 checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/uplr_s2.py',
    '../_base_/datasets/cityscapes_512x512_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
num_classes = 19
round_iters = 5000
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=num_classes))
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=round_iters))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters] * 3,
    val_interval=round_iters,
    label_dataloader={{_base_.cityscapes_label_dataloader}})
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=3 * round_iters, by_epoch=False)
]
