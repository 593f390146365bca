# ATP step T in the public code's form (its atp_tta, the "Teach" of the released checkpoints;
# configs/atp/README.md), source-free: an EMA teacher (alpha 0.999, train-mode BN, dropout off)
# labels the whole target image; a crop whose pseudo-label has no class above cat_max_ratio = 0.75
# is chosen (ClassBalancedCrop), the teacher labels the crop again, and the student trains on the
# strongly augmented crop (colour jitter 0.2, blur) with cross-entropy on every argmax label,
# scaled by the scalar fraction of pixels with confidence >= 0.968 (the public code computes that
# weight but leaves it out of this loss: model.target_losses=[dict(type='PseudoLabelCELoss',
# use_weights=False)] reproduces that literally). No negative labels.
# A benchmark config sets the crop size:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                crop=dict(_base_.method_model.crop, crop_size=<(h, w)>))
method_model = dict(
    type='CroppedRelabelSegmentor',
    setting='sfda',
    teacher=True,
    teacher_mode='train',
    pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='dacs'),
    crop=dict(type='ClassBalancedCrop', crop_size=(640, 640), cat_max_ratio=0.75),
    strong_augment=dict(type='StrongAugment', color_jitter_strength=0.2),
    target_losses=[dict(type='PseudoLabelCELoss', use_weights=True)])
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
