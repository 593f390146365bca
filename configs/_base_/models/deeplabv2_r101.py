# DeepLabV2 with ResNet-101 (arXiv:1606.00915, as in Cal-SFDA's public code): layer3/layer4
# dilated 2/4, output stride 8, the ASPP classifier of four dilated 3x3 convs (6/12/18/24) whose
# outputs are summed. BN affine parameters frozen and BN statistics kept fixed in training
# (`requires_grad=False`, `norm_eval=True`) as the papers' `fixbn`.
# This base: pytorch-style ResNet-101 with torchvision's ImageNet weights and the ImageNet RGB
# mean/std they were trained with (the mmseg convention). The caffe-style network and BGR mean of the
# original DeepLabV2 code (AdaptSegNet's initialisation) is ./deeplabv2_r101_caffe.py.
# The weights are read offline from pretrained/resnet101_torchvision_imagenet.pth (the
# pretrained:// scheme of mmsfda.utils.pretrained; docs/pretrained.md says how to get the file). A run
# started from a checkpoint that holds the backbone (load_from, resume) does not read it.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrained://resnet101_torchvision_imagenet.pth')),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=0,
        dilations=(6, 12, 18, 24),
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
