# Cal-SFDA stage 3 (SPEC 3.6-3.8): source-free adaptation in rounds from the stage-2 model
#   --cfg-options load_from=<stage-2 checkpoint>   (a checkpoint without a value net is refused)
# 1. BN warm-up: BNStatsWarmupHook re-estimates the BN statistics of the value net and the encoder
#    on target train images before anything uses the value net (reset=True: exact target
#    statistics; reset=False with momentum=0.1 updates the source statistics as the public code).
# 2. Before each round, SelfTrainingLoop labels the target train set with the current model
#    (teacher := student after every step, MeanTeacherHook momentum 0) and ECEGuidedLabeler:
#    thresholds on (1 - estimated ECE) * confidence, top cb_prop = 0.15 + 0.05 r per class, union
#    with each image's top local_prop = 0.1 + 0.05 r pixels.
# 3. Training: symmetric CE (0.1 CE weighted by softmax(1/theta) + 1.0 RCE) + negative learning +
#    eta * robust entropy; the first epoch (100 iterations) trains only normalisation layers, then
#    only the decoder (TrainableScheduleHook); lr / sqrt(2) after each round.
# 4. Label-free selection: every 50 iterations the target val set is evaluated; the mean estimated
#    ECE (EstECE, no labels needed) picks best_EstECE_*.pth; mIoU (oracle, needs labels) is logged
#    beside it and CheckpointSelectionHook writes both picks and their mIoU gap.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_offline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
num_classes = 10
round_iters = 200
epoch_iters = 100  # 400 target train images, batch 4
student = dict(
    _base_.model,
    type='ECEEstimatingEncoderDecoder',
    value_head=dict(type='ECEValueHead', in_channels=128, num_classes=num_classes, channels=32,
                    require_in_checkpoint=True))
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student=student,
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ECEGuidedLabeler', num_classes=num_classes, cb_prop=0.15,
                        local_prop=0.1, increment=0.05, ece_weighting=True,
                        threshold_rule='any'),
    target_losses=[
        dict(type='SymmetricCELoss', alpha=0.1, beta=1.0, class_weight='thresholds'),
        dict(type='NegativeLearningLoss', rank_window=3),
        # loss_weight is Cal-SFDA's `eta`, missing from the public config (SPEC 3.8): 1.0 as in LDBE,
        # which Cal-SFDA extends [U]. eta=2.0 here is FDA's Charbonnier exponent.
        dict(type='RobustEntropyLoss', eta=2.0, normalize='batch_max', loss_weight=1.0),
    ],
    teacher_mode='eval')
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters, round_iters],
    val_interval=50,
    label_dataloader={{_base_.toy_label_dataloader}})
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [
    dict(type='StepLR', step_size=round_iters, gamma=0.7071, begin=0, end=2 * round_iters,
         by_epoch=False)
]
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15),
    dict(type='EstimatedECEMetric'),
]
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(interval=50, max_keep_ckpts=-1, save_best=['EstECE', 'mIoU'],
                    rule=['less', 'greater']))
custom_hooks = [
    # One pass over the target train images (test pipeline: the train loader reads pseudo-labels).
    dict(type='BNStatsWarmupHook', dataloader={{_base_.toy_label_dataloader}},
         modules=['student.backbone', 'student.value_head'],
         reset=True, momentum=None),
    dict(type='MeanTeacherHook', momentum=0.0, skip_buffers=False, init_teacher='copy'),
    dict(type='TrainableScheduleHook', phases=[
        dict(begin=0, trainable='norm'),
        dict(begin=epoch_iters, trainable=[r'decode_head\.']),
    ]),
    dict(type='CheckpointSelectionHook',
         rules=[
             dict(name='label_free', key='EstECE', mode='min'),
             dict(name='oracle', key='mIoU', mode='max'),
         ],
         compare=('label_free', 'oracle', 'mIoU'),
         correlate=[('EstECE', 'ClassECE'), ('EstECE', 'ECE')]),
    dict(type='PseudoLabelStatsHook', interval=50),
]
# TrainableScheduleHook changes the trainable parameters after DDP has wrapped the model.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
