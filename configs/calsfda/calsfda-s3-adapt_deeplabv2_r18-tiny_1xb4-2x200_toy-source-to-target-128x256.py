# Cal-SFDA stage 3 (arXiv:2308.03003; configs/calsfda/README.md): source-free adaptation in rounds
# from the stage-2 model
#   --cfg-options load_from=<stage-2 checkpoint>   (a checkpoint without a value net is refused)
# 1. BN warm-up: BNStatsWarmupHook re-estimates the BN statistics of the value net and the encoder
#    on target train images before anything uses the value net (reset=True: exact target
#    statistics; reset=False with momentum=0.1 updates the source statistics as the public code),
#    and again the value net's alone before every validation (reestimate_before_val), so that the
#    estimate is made with the statistics of the model it judges.
# 2. Before each round, SelfTrainingLoop labels the target train set with the current model
#    (no teacher: the student labels, under no_grad) and ECEGuidedLabeler:
#    thresholds on (1 - estimated ECE) * confidence, top cb_prop = 0.15 + 0.05 r per class, union
#    with each image's top local_prop = 0.1 + 0.05 r pixels.
# 3. Training: symmetric CE (0.1 CE weighted by softmax(1/theta) + 1.0 RCE) + negative learning +
#    eta * robust entropy; the first epoch (100 iterations) trains only normalisation layers, then
#    only the decoder (TrainableScheduleHook); lr / sqrt(2) after each round.
# 4. Label-free selection: every 50 iterations the target val set is evaluated; the mean estimated
#    ECE (EstECE, no labels needed) picks best_EstECE_*.pth; mIoU (oracle, needs labels) is logged
#    beside it and CheckpointSelectionHook writes both picks and their mIoU gap. The value net reads
#    the decoder's output as well as the backbone features (ECEValueHead use_decoder=True, a
#    reconstruction: the public code's value net reads the backbone only, see
#    calsfda-s3-adapt-backbone-only_*.py), so the decoder-only phase can move the estimate.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/calsfda_s3.py',
    '../_base_/datasets/toy_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
num_classes = 10
round_iters = 200
epoch_iters = 100  # 400 target train images, batch 4
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(
        _base_.model,
        type='ECEEstimatingEncoderDecoder',
        value_head=dict(type='ECEValueHead', in_channels=128, num_classes=num_classes, channels=32,
                        require_in_checkpoint=True)),
    pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=num_classes))
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
    _base_.method_hooks,
    checkpoint=dict(interval=50, max_keep_ckpts=-1, save_best=['EstECE', 'mIoU'],
                    rule=['less', 'greater']),
    # One pass over the target train images (test pipeline: the train loader reads
    # pseudo-labels); before every validation the value net's BN again, on the first 100 of those
    # images (25 batches; the same images every time, so that validations differ only by the model).
    bn_warmup=dict(_base_.method_hooks.bn_warmup, dataloader={{_base_.toy_label_dataloader}},
                   reestimate_iters=25),
    trainable_schedule=dict(
        _base_.method_hooks.trainable_schedule,
        phases=dict(_base_.method_hooks.trainable_schedule.phases,
                    decoder=dict(_base_.method_hooks.trainable_schedule.phases.decoder,
                                 begin=epoch_iters))))
# TrainableScheduleHook changes the trainable parameters after DDP has wrapped the model.
model_wrapper_cfg = dict(find_unused_parameters=True)
