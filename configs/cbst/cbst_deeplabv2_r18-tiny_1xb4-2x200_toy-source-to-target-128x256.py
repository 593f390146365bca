# CBST (../_base_/methods/cbst.py) on the toy benchmark: two rounds of 200 iterations from the
# source model; the labels of each round are written under <work_dir>/pseudo_labels/round_<r>/.
# The two short toy rounds keep proportion 0.5 throughout (CBST: 0.2, +0.05 per round, up to 0.5).
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/cbst.py',
    '../_base_/datasets/toy_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=10,
                                 proportion=0.5))
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=200))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[200, 200],
    val_interval=200,
    label_dataloader={{_base_.toy_label_dataloader}})
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=400, by_epoch=False)]
