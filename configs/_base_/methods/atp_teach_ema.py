# ATP step T, bidirectional Teaching with an online EMA teacher (configs/atp/README.md): the
# alternative to ./atp_teach.py's offline rounds. The EMA teacher (alpha 0.999, train-mode BN,
# dropout off) labels each target batch; positive labels = ClassBalancedLabeler online (per class
# the most confident 50 % of the batch's pixels, running thresholds) [U]; negative labels = the
# classes the *teacher* gives probability below tau_n = 0.05 (NegativeLearningLoss,
# probs_from='teacher') [U]; StrongAugment on the student's input as in the public code.
# Use it in place of atp_teach.py (no SelfTrainingLoop: a plain iteration-based schedule):
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=<C>))
#   default_hooks = _base_.method_hooks
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    teacher=True,
    teacher_mode='train',
    pseudo_labeler=dict(type='ClassBalancedLabeler', mode='online', proportion=0.5),
    strong_augment=dict(type='StrongAugment', color_jitter_strength=0.2),
    target_losses=[
        dict(type='PseudoLabelCELoss', avg='weights'),
        dict(type='NegativeLearningLoss', selection='threshold', tau_n=0.05, probs_from='teacher',
             loss_weight=1.0, loss_name='loss_neg'),
    ])
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
