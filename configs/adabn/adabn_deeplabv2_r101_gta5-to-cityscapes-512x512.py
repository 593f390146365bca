# AdaBN on GTA5 -> Cityscapes: the source model's BatchNorm statistics replaced by statistics of
# Cityscapes train (one pass, exact pooled mean/var). Writes work_dir/iter_0.pth and evaluates it.
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/cityscapes_512x512_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_cityscapes.py'
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=0, val_interval=1)
param_scheduler = []
custom_hooks = [
    dict(type='BNStatsWarmupHook', reset=True, momentum=None, save_after=True, evaluate_after=True)
]
