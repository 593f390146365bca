# Iteration-based SGD + poly schedule (DeepLabV2-era DA papers: SGD, momentum 0.9, wd 5e-4, poly 0.9).
# Children set `max_iters`, `val_interval` and the lr; `param_scheduler.end` follows max_iters there.
max_iters = 40000
val_interval = 4000
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keeps the best source checkpoint by mIoU and, separately, by ECE (lower is better; Cal-SFDA
    # selects the source model by calibration). Needs CalibrationMetric in val_evaluator.
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval,
                    max_keep_ckpts=3, save_best=['mIoU', 'ECE'], rule=['greater', 'less']),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
