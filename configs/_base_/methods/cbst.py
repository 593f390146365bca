# CBST (Zou et al., ECCV 2018, arXiv:1810.07911) as a source-free method: offline class-balanced
# self-training in rounds. Before each round SelfTrainingLoop labels every target train image with
# the current model (ClassBalancedLabeler, mode='offline': per-class thresholds keep the most
# confident `proportion` of each class's pixels over the whole target set; CBST's schedule: 0.2,
# +0.05 per round, at most 0.5), the round trains on those labels with cross-entropy (mean over the
# labelled pixels). The labels of round r come from the model after round r-1 (round 0: the source
# model), as in CBST: there is no teacher (no copy of the network); the student labels under
# no_grad, in eval mode.
#
# How a benchmark config uses a method base: see ./tent.py. A CBST config also sets the labeler's
# num_classes, and its train_cfg is a SelfTrainingLoop (rounds, val_interval, label_dataloader):
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=<C>))
#   default_hooks = _base_.method_hooks
# `method_hooks` are named hooks, merged into `default_hooks` so that every setting is reachable by
# name (--cfg-options default_hooks.pseudo_label_stats.interval=1), never by a list index.
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ClassBalancedLabeler', mode='offline', proportion=0.2,
                        proportion_step=0.05, max_proportion=0.5),
    target_losses=[dict(type='PseudoLabelCELoss', avg='weights')],
    teacher_mode='eval')
method_hooks = dict(
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
