# Source-only baseline of the toy DAFormer network (../_base_/models/daformer_mit-tiny.py): trained
# from scratch on toy source train with the toy source schedule (AdamW is DAFormer's; the toy
# keeps the SGD schedule of the other toy source models, lr 0.02); the starting model of the toy
# DAFormer / MIC configs.
_base_ = [
    '../_base_/models/daformer_mit-tiny.py', '../_base_/datasets/toy_source.py',
    '../_base_/default_runtime.py', '../_base_/schedules/toy.py'
]
max_iters = 800
val_interval = 200
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
