# CPU-sized DeepLabV2 for the toy benchmark: a ResNet-18 (V1c stem) with a quarter of the channels
# (16-32-64-128), output stride 8, and the DeepLabV2 ASPP classifier with dilations scaled to the
# 16x32 feature maps of 128x256 inputs. Trained from scratch (no network for ImageNet weights).
# BN is trainable here (from scratch), which also gives AdaBN / TENT something to adapt.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(128, 256))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=128,
        in_index=0,
        dilations=(1, 3, 6, 9),
        num_classes=10,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
