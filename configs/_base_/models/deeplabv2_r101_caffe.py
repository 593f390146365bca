# DeepLabV2-ResNet-101 as the DeepLabV2-era adaptation papers' code builds it (AdaptSegNet,
# arXiv:1802.10349, model/deeplab.py; reused by ADVENT, FDA, DACS, Cal-SFDA, DiGA): the caffe-style
# ResNet (stride in the first 1x1 conv of a bottleneck, full dilation in the first block of layers
# 3/4, stem max-pool rounding up: `DeepLabV2ResNet`) initialised from the caffe ImageNet weights
# DeepLab_resnet_pretrained_init-f81d91e8.pth, converted by
# tools/model_converters/deeplabv2_caffe2mmseg.py --backbone-only and read offline from
# pretrained/deeplabv2_resnet101_caffe_imagenet.pth (docs/pretrained.md). Those weights expect the
# caffe normalisation: BGR channel order, the BGR mean (104.01, 116.67, 122.68) subtracted, no
# division by a std. Everything else (ASPP head, output stride 8, frozen BN) is ./deeplabv2_r101.py.
# A checkpoint converted from the papers' code (the same converter without --backbone-only) loads
# into a model of this base with load_from.
_base_ = ['./deeplabv2_r101.py']
data_preprocessor = dict(
    mean=[104.00698793, 116.66876762, 122.67891434], std=[1.0, 1.0, 1.0], bgr_to_rgb=False)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='DeepLabV2ResNet',
        style='caffe',
        contract_dilation=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrained://deeplabv2_resnet101_caffe_imagenet.pth')))
