# Source-only baseline on the toy benchmark: the CPU-sized DeepLabV2 trained from scratch on toy
# source train, validated on source val (mIoU and calibration; the best-ECE and best-mIoU checkpoints
# are both kept). Evaluate on the target with tools/test.py and
#   --cfg-options test_dataloader.dataset.data_root=data/toy/target
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_source.py',
    '../_base_/default_runtime.py', '../_base_/schedules/toy.py'
]
crop_size = (128, 256)
max_iters = 800
val_interval = 200
model = dict(data_preprocessor=dict(size=crop_size))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
