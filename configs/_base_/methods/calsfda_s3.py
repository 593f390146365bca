# Cal-SFDA stage 3 (Wang et al., ACM MM 2023, arXiv:2308.03003; configs/calsfda/README.md):
# source-free adaptation in rounds from the stage-2 model (its segmenter with the value net), without
# network, data and schedule. A benchmark config sets the student (an ECEEstimatingEncoderDecoder),
# the labeler's num_classes, the BN warm-up's dataloader (target train images) and the iteration of
# the phase switch (one epoch: trainable_schedule.phases.decoder.begin):
#   model = dict(_base_.method_model, _delete_=True, student=<student>,
#                pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=C))
#   default_hooks = dict(_base_.method_hooks, bn_warmup=dict(..., dataloader=...),
#                        trainable_schedule=dict(..., phases=dict(..., decoder=dict(..., begin=E))))
# - No teacher: before each round SelfTrainingLoop labels the target train set with the current
#   model and ECEGuidedLabeler (thresholds on (1 - estimated ECE) * confidence, top
#   cb_prop = 0.15 + 0.05 r per class, union with each image's top local_prop = 0.1 + 0.05 r pixels).
# - Losses: symmetric CE (0.1 CE weighted by softmax(1/theta) + 1.0 RCE), negative learning and
#   robust entropy; its weight is Cal-SFDA's `eta`, missing from the public config: 1.0 as in LDBE,
#   which Cal-SFDA extends [U] (eta=2.0 here is FDA's Charbonnier exponent).
# - Hooks (named, so every setting is reachable by name): BN warm-up of the encoder and the value
#   net on target train images before anything uses the value net, and of the value net again
#   before every validation; the first epoch trains normalisation layers only, then the decoder
#   only; label-free checkpoint selection by the mean estimated ECE (EstECE) beside the oracle
#   (mIoU); per-class pseudo-label statistics.
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ECEGuidedLabeler', cb_prop=0.15, local_prop=0.1, increment=0.05,
                        ece_weighting=True, threshold_rule='any'),
    target_losses=[
        dict(type='SymmetricCELoss', alpha=0.1, beta=1.0, threshold_weights=True),
        dict(type='NegativeLearningLoss', rank_window=3),
        dict(type='RobustEntropyLoss', eta=2.0, normalize='batch_max', loss_weight=1.0),
    ],
    teacher_mode='eval')
method_hooks = dict(
    bn_warmup=dict(type='BNStatsWarmupHook', modules=['student.backbone', 'student.value_head'],
                   reset=True, momentum=None, reestimate_before_val=['student.value_head']),
    trainable_schedule=dict(type='TrainableScheduleHook', phases=dict(
        norm=dict(begin=0, trainable='norm'),
        decoder=dict(begin=1000, trainable=[r'decode_head\.']))),
    checkpoint_selection=dict(
        type='CheckpointSelectionHook',
        rules=[
            dict(name='label_free', key='EstECE', mode='min'),
            dict(name='oracle', key='mIoU', mode='max'),
        ],
        compare=('label_free', 'oracle', 'mIoU'),
        correlate=[('EstECE', 'ClassECE'), ('EstECE', 'ECE')]),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
