# DeepLabV2-ResNet-101 (./deeplabv2_r101.py: output stride 8, frozen BN, ImageNet weights) with the
# ProDA / DiGA head (arXiv:2304.02222, the public code's Classifier_Module2): a 1x1 and four 3x3
# branches at dilations 6/12/18/24, 256 channels each with GroupNorm(32) and ReLU, concatenated
# (1280), SE block, 3x3 conv to the 256-d feature of the prototypes (GroupNorm, ReLU), dropout
# 0.1, bias-free 1x1 classifier.
_base_ = ['./deeplabv2_r101.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ProDAHead',
        in_channels=2048,
        in_index=0,
        channels=256,
        num_groups=32,
        dilations=(6, 12, 18, 24),
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
