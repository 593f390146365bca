# The optimisation of DiGA's image translator (its public code's train_domain_translator.py):
# Adam lr 1e-4, betas (0.5, 0.999), no weight decay, for the generator and the discriminators,
# poly 0.9, 50k iterations; no validation (the translator has no metric; its checkpoint feeds the
# warm-up: children set val_dataloader / val_cfg / val_evaluator and the test ones to None).
# Children set max_iters and repeat param_scheduler and train_cfg.
max_iters = 50000
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
    discriminator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))))
param_scheduler = dict(
    generator=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)],
    discriminator=[
        dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
    ])
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
