# FDA (./fda.py) with DeepLabV2-ResNet-101 and the DeepLabV2-era SGD schedule (2.5e-4, poly 0.9,
# 120k iterations as AdvEnt's), without the data: a config adds a pair dataset and batch size 1.
_base_ = [
    '../models/deeplabv2_r101_caffe.py', './fda.py', '../default_runtime.py',
    '../schedules/sgd_poly_iter.py'
]
max_iters = 120000
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
