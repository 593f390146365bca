# DiGA's image translator (MUNITLite, mmsfda/models/translators/munit_lite.py; arXiv:2304.02222,
# Sec. 3.2; its public code's train_domain_translator.py) with the loss weights of the issue / the
# code: LS-GAN 0.5, cycle L1 10, semantic-edge L1 20 on the Laplacian edges of the source label
# (what is compared on the edges is our reconstruction [U]: the images' Laplacians; 'pixels' is
# the other option), self-reconstruction L1 0.001, and the VGG19 perceptual L1 (0.1) only when
# ImageNet VGG19 weights are given (this environment has none), in a child config:
#   model = dict(perceptual_loss=dict(type='VGGPerceptualLoss',
#                                     checkpoint='<torchvision vgg19 .pth>', loss_weight=0.1))
# Images are RGB in [-1, 1] (mean = std = 127.5). A benchmark config sets generator,
# discriminator, image_size and data_preprocessor.size:
#   model = dict(_base_.diga_translator_model, generator=_base_.munit_generator, ...)
diga_translator_model = dict(
    type='MUNITLite',
    adv_weight=0.5,
    cycle_weight=10.0,
    recon_weight=0.001,
    edge_loss=dict(type='SemanticEdgeL1Loss', compare='laplacian', loss_weight=20.0),
    perceptual_loss=None,
    data_preprocessor=dict(type='DomainDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255))
# Cityscapes for the translator: each image at half (1024x512) or full resolution with
# probability 1/2 (the code draws one low-res and one full-res image per domain and iteration),
# a 512x896 crop, flip.
diga_translator_cityscapes_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomChoice',
         transforms=[[dict(type='Resize', scale=(1024, 512), keep_ratio=True)],
                     [dict(type='Resize', scale=(2048, 1024), keep_ratio=True)]],
         prob=[0.5, 0.5]),
    dict(type='RandomCrop', crop_size=(512, 896)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
