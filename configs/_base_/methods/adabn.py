# AdaBN (Li et al., 2016, arXiv:1603.04779), source-free: the source model's BatchNorm statistics
# are replaced by target statistics (one pass over the train dataloader, i.e. target train images;
# exact pooled mean/var); no parameter changes. No training iteration: BNStatsWarmupHook writes
# work_dir/iter_0.pth and evaluates it right after the warm-up.
#
# AdaBN has no schedule of its own, so this base inherits the generic one and is used instead of a
# schedule base:
#   _base_ = ['../_base_/models/<net>.py', <target data>, '../_base_/default_runtime.py',
#             '../_base_/methods/adabn.py']
# The hook is named, so any of its settings can be overridden by name, e.g.
#   --cfg-options default_hooks.bn_stats_warmup.momentum=0.1 \
#       default_hooks.bn_stats_warmup.reset=False
_base_ = ['../schedules/sgd_poly_iter.py']
# Source-free: the model is a plain segmentor (no `setting` of its own), so the config says it; the
# Runner build then fails if any dataloader of this config (or one it inherits) reads source data.
setting = 'sfda'
train_cfg = dict(type='IterBasedTrainLoop', max_iters=0, val_interval=1)
param_scheduler = []
default_hooks = dict(
    bn_stats_warmup=dict(type='BNStatsWarmupHook', reset=True, momentum=None, save_after=True,
                         evaluate_after=True))
