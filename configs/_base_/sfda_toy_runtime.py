# Shared by the toy adaptation configs: a short schedule from a trained source model
# (pass it with --cfg-options load_from=work_dirs/.../iter_1500.pth), validated on target val.
crop_size = (128, 256)
max_iters = 500
val_interval = 250
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval),
    visualization=dict(draw=False))
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='CalibrationMetric', n_bins=15)]
test_evaluator = val_evaluator
randomness = dict(seed=0)
