# AdaBN (Li et al., 2016): replace the BatchNorm statistics of the source model by target statistics
# (one pass over target train, exact pooled mean/var); no parameter changes.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>  -> work_dir/iter_0.pth
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=0, val_interval=1)
param_scheduler = []
custom_hooks = [
    dict(type='BNStatsWarmupHook', reset=True, momentum=None, save_after=True, evaluate_after=True)
]
