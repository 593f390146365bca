# Source-only baseline of DiGA on the toy benchmark: the network of the DiGA configs (toy
# DeepLabV2 with the ProDA head) trained on source train with plain CE, the same schedule as the
# warm-ups (300 iterations, SGD lr 0.02, poly), validated on *target* val every 100 iterations
# (the best-mIoU checkpoint is the oracle pick). DiGA's claim is that its distillation warm-up,
# trained on the same source data, generalises better than this.
_base_ = [
    '../_base_/models/deeplabv2-proda_r18-tiny.py', '../_base_/datasets/toy_source_to_target.py',
    '../_base_/default_runtime.py', '../_base_/schedules/toy.py'
]
crop_size = (128, 256)
max_iters = 300
val_interval = 100
model = dict(data_preprocessor=dict(size=crop_size))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
