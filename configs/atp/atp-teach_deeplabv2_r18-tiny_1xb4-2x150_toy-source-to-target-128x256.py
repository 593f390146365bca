# ATP step T, bidirectional Teaching (../_base_/methods/atp_teach.py) on the toy benchmark: two
# offline rounds of 150 iterations from the Align model, class-balanced positive labels
# (proportion 0.2, then 0.25) and negative labels below tau_n = 0.05, learnt on a strongly
# augmented view of the target image (the base's). Validated on target val.
# Run: tools/train.py CONFIG --cfg-options load_from=<Align checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/atp_teach.py',
    '../_base_/datasets/toy_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=10))
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=150))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[150, 150],
    val_interval=150,
    label_dataloader={{_base_.toy_label_dataloader}})
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=300, by_epoch=False)]
