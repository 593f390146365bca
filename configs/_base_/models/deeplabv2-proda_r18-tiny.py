# The toy DeepLabV2 (./deeplabv2_r18-tiny.py: CPU-sized ResNet-18, output stride 8, from scratch)
# with the ProDA / DiGA head (ProDAHead: 1x1 + four dilated 3x3 branches with GroupNorm, SE block,
# a feature layer and a bias-free classifier) scaled down: 32-d features instead of 256, GroupNorm
# with 8 groups, dilations scaled to the 16x32 feature maps of 128x256 inputs as the toy
# DeepLabV2 head's.
_base_ = ['./deeplabv2_r18-tiny.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ProDAHead',
        in_channels=128,
        in_index=0,
        channels=32,
        num_groups=8,
        dilations=(1, 3, 6, 9),
        dropout_ratio=0.1,
        num_classes=10,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
