# Shared by the source-free baselines on GTA5/SYNTHIA -> Cityscapes: a short SGD schedule from a
# source checkpoint (--cfg-options load_from=...), evaluated on Cityscapes val (mIoU + calibration).
_base_ = ['./sgd_poly_iter.py']
max_iters = 10000
val_interval = 2000
optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
