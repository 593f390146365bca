# Cal-SFDA stage 2 (arXiv:2308.03003): the value net (ECEValueHead: BN, 1x1 conv to 32 channels -- a
# quarter of the paper's 128, as the tiny backbone has a sixteenth of ResNet-101's 2048 -- resize
# to 4x4, linear, sigmoid) learns to regress each source image's differentiable class-level ECE.
# As in the public code the segmentation CE is logged (decode.ce), not optimised. Unlike the public
# code, the segmenter gets no gradient from the value net's loss (detach_features,
# detach_ece_target): at this schedule's lr (0.01; the paper: 5e-5 with a 0.01 gradient clip) those
# gradients alone cost 7.7 source-val mIoU in 300 iterations (67.29 -> 59.55, seed 0), undoing the
# stage-1 checkpoint selection. Set both to False for the public code's behaviour.
# Starts from the stage-1 checkpoint the selection picked:
#   --cfg-options load_from=<stage-1 checkpoint>
# Validation on source val reports the mean estimate (EstECE) beside the true class-level ECE
# (ClassECE) and the usual mIoU / calibration.
_base_ = ['../source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py']
max_iters = 300
val_interval = 100
model = dict(
    type='ECEEstimatingEncoderDecoder',
    value_head=dict(type='ECEValueHead', in_channels=128, num_classes=10, channels=32),
    optimize_seg_loss=False,
    detach_features=True,
    detach_ece_target=True)
# SGD with Nesterov momentum as the paper; lr / sqrt(2) after every epoch (100 iterations here).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005, nesterov=True),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='StepLR', step_size=100, gamma=0.7071, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best=None, rule=None))
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15),
    dict(type='EstimatedECEMetric'),
]
test_evaluator = val_evaluator
