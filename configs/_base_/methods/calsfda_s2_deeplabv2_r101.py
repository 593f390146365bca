# Cal-SFDA stage 2 with DeepLabV2-ResNet-101, without the data: the value net (ECEValueHead on layer4:
# BN, 1x1 conv 2048 -> 128, 4x4; and on the decoder's softmax, confidence and entropy: 1x1 conv to
# 128, ReLU, 4x4 average; then linear, sigmoid) regresses each source image's class-level ECE; the
# segmentation CE is logged only. The decoder branch is a reconstruction (the public code's value net
# reads layer4 only: value_head=dict(use_decoder=False)), see configs/calsfda/README.md. The paper
# trains 30 epochs with SGD (lr 5e-5, Nesterov) and divides the lr by sqrt(2) after each epoch; its
# gradient-norm clip of 0.01 applies to each part (encoder, decoder, value net) separately, here to
# all together. A config adds the source dataset and sets num_classes of decode_head and value_head.
_base_ = ['./calsfda_s1_deeplabv2_r101.py']
max_iters = 20000
epoch_iters = 2000
model = dict(
    type='ECEEstimatingEncoderDecoder',
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)]),
    value_head=dict(type='ECEValueHead', in_channels=2048, channels=128),
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
default_hooks = dict(checkpoint=dict(interval=epoch_iters, max_keep_ckpts=3, save_best=None,
                                     rule=None),
                     checkpoint_selection=None)  # stage 2 hands on its last checkpoint
