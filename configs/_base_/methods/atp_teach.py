# ATP step T, bidirectional Teaching (arXiv:2106.11653, Sec. 3; configs/atp/README.md),
# source-free, as re-implemented: offline rounds from the aligned model (load_from). Before each
# round SelfTrainingLoop labels every target train image with the current model:
# positive labels = ClassBalancedLabeler (per class the most confident `proportion` of its
# pixels over the whole set; 0.2, +0.05 per round, at most 0.5; the CBST schedule [U]); the round
# trains with cross-entropy on them plus negative labels: every class whose probability is below
# tau_n = 0.05 at a pixel [U], pushed down with -log(1 - p) (NegativeLearningLoss, the loss
# Cal-SFDA's negative learning uses, in its 'threshold' configuration; negatives from the
# student's own detached prediction, since offline labels carry no probabilities)
# [U: lambda_neg = 1]. The student learns the labels on a strongly augmented view of the target
# image (StrongAugment: colour jitter 0.1 + blur; the public atp_tta's augmentation at half its
# jitter) [U]: on the clean view (the labels' own) T did not improve on A on the toy benchmark.
# A benchmark config sets the labeler's num_classes and a SelfTrainingLoop train_cfg:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=<C>))
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ClassBalancedLabeler', mode='offline', proportion=0.2,
                        proportion_step=0.05, max_proportion=0.5),
    target_losses=[
        dict(type='PseudoLabelCELoss', avg='weights'),
        dict(type='NegativeLearningLoss', selection='threshold', tau_n=0.05, probs_from='student',
             loss_weight=1.0, loss_name='loss_neg'),
    ],
    teacher_mode='eval',
    strong_augment=dict(type='StrongAugment', color_jitter_strength=0.1))
method_hooks = dict(pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
