# DACS (Tranheden et al., WACV 2021, arXiv:2007.08702) with DAFormer's settings (Hoyer et al., CVPR
# 2022, arXiv:2111.14887), UDA: an EMA teacher (alpha 0.999, with the 1 - 1/(t+1) ramp) labels
# target images in train mode; pseudo-labels weighted by the scalar DACS weight (the fraction of
# pixels with confidence >= 0.968); ClassMix of source classes into the target image (classes
# drawn from the whole source batch, as DAFormer); strong colour jitter + blur; cross-entropy on
# the mixed image beside the supervised source loss.
#
# How a benchmark config uses a method base: see ./tent.py. A DACS config adds a DomainPairDataset
# train set (source and target) and, for Cityscapes, the ignored top/bottom pseudo-label rows:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
#   default_hooks = _base_.method_hooks
# `method_hooks` are named hooks, merged into `default_hooks` so that every setting is reachable by
# name (--cfg-options default_hooks.mean_teacher.momentum=0.99), never by a list index.
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='uda',
    teacher=True,  # the EMA teacher: the student's architecture, updated by MeanTeacherHook
    pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='dacs'),
    mixer=dict(type='ClassMix', batch_unique=True),
    strong_augment=dict(type='StrongAugment'),
    target_losses=[dict(type='PseudoLabelCELoss')],
    teacher_mode='train')
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
