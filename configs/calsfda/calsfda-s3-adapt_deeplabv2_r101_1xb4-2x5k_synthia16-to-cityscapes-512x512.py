# Cal-SFDA stage 3 on synthia16 -> Cityscapes, the paper's hyper-parameters (SPEC 3.6-3.8) on the toy
# stage-3 recipe (see calsfda-s3-adapt_deeplabv2_r18-tiny_*.py for the steps): BN warm-up of the
# encoder and value net, ECE-guided class-balanced labels per round (cb_prop 0.15, local_prop 0.1,
# +0.05 per round), SCE (a 0.1, b 1.0) + negative learning + robust entropy, BN-only first epoch
# then decoder only, SGD lr 5e-5 divided by sqrt(2) after each round, label-free selection by the
# mean estimated ECE on Cityscapes val. An epoch of 2975 images at batch 4 is ~744 iterations; the
# paper's 20 epochs per round are ~15k iterations, shortened here to 5k per round.
#   --cfg-options load_from=<stage-2 checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/cityscapes_512x512_target_offline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_cityscapes.py'
]
num_classes = 16
round_iters = 5000
epoch_iters = 744
student = dict(
    _base_.model,
    type='ECEEstimatingEncoderDecoder',
    decode_head=dict(_base_.model.decode_head, num_classes=num_classes),
    value_head=dict(type='ECEValueHead', in_channels=2048, num_classes=num_classes, channels=128,
                    require_in_checkpoint=True))
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student=student,
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ECEGuidedLabeler', num_classes=num_classes, cb_prop=0.15,
                        local_prop=0.1, increment=0.05),
    target_losses=[
        dict(type='SymmetricCELoss', alpha=0.1, beta=1.0, class_weight='thresholds'),
        dict(type='NegativeLearningLoss', rank_window=3),
        dict(type='RobustEntropyLoss', eta=2.0, normalize='batch_max', loss_weight=1.0),
    ],
    teacher_mode='eval')
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[round_iters, round_iters],
    val_interval=1000,
    label_dataloader={{_base_.cityscapes_label_dataloader}})
optim_wrapper = dict(optimizer=dict(lr=5e-5, nesterov=True))
param_scheduler = [
    dict(type='StepLR', step_size=round_iters, gamma=0.7071, begin=0, end=2 * round_iters,
         by_epoch=False)
]
# Cityscapes val remapped to the 16 SYNTHIA classes, mIoU16 / mIoU13 (as
# ../_base_/datasets/cityscapes_512x512_target_synthia16.py, which cannot be a second base here).
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia16'),
    dict(type='CalibrationMetric', n_bins=15),
    dict(type='EstimatedECEMetric'),
]
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(interval=1000, max_keep_ckpts=-1, save_best=['EstECE', 'mIoU16'],
                    rule=['less', 'greater']))
custom_hooks = [
    # One pass over the target train images (test pipeline: the train loader reads pseudo-labels).
    dict(type='BNStatsWarmupHook', dataloader={{_base_.cityscapes_label_dataloader}},
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
             dict(name='oracle', key='mIoU16', mode='max'),
         ],
         compare=('label_free', 'oracle', 'mIoU16'),
         correlate=[('EstECE', 'ClassECE'), ('EstECE', 'ECE')]),
]
# TrainableScheduleHook changes the trainable parameters after DDP has wrapped the model.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
