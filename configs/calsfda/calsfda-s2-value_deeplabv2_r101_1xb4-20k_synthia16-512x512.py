# Cal-SFDA stage 2 on synthia16: the value net (ECEValueHead on layer4: BN, 1x1 conv 2048 -> 128,
# 4x4, linear, sigmoid) regresses each source image's class-level ECE; segmentation CE logged only.
# From the stage-1 pick: --cfg-options load_from=<stage-1 checkpoint>. The paper trains 30 epochs
# with SGD (lr 5e-5, Nesterov) and divides the lr by sqrt(2) after each epoch; its gradient-norm
# clip of 0.01 applies to each part (encoder, decoder, value net) separately, here to all together.
_base_ = ['./calsfda-s1-source_deeplabv2_r101_1xb4-40k_synthia16-512x512.py']
max_iters = 20000
epoch_iters = 2000
model = dict(
    type='ECEEstimatingEncoderDecoder',
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)]),
    value_head=dict(type='ECEValueHead', in_channels=2048, num_classes=16, channels=128),
    optimize_seg_loss=False)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=5e-5, momentum=0.9, weight_decay=0.0005, nesterov=True),
    clip_grad=dict(max_norm=0.01, norm_type=2))
param_scheduler = [
    dict(type='StepLR', step_size=epoch_iters, gamma=0.7071, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=epoch_iters)
default_hooks = dict(checkpoint=dict(interval=epoch_iters, max_keep_ckpts=3, save_best=None, rule=None))
custom_hooks = []
val_evaluator = [*_base_.val_evaluator, dict(type='EstimatedECEMetric')]
test_evaluator = val_evaluator
