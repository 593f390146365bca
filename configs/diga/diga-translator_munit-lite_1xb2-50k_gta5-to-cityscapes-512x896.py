# DiGA's image translator (MUNITLite, ../_base_/models/munit_lite.py and
# ../_base_/methods/diga_translator.py: the losses and their weights) on GTA5 <-> Cityscapes
# train: 50k iterations, Adam 1e-4 betas (0.5, 0.999), poly 0.9, 512x896 crops with flip,
# 2 (GTA5, Cityscapes) pairs per batch, each image low-res or full-res with probability 1/2 (the
# code: one low-res and one full-res image per domain and iteration; GTA5 also rescaled by
# U(0.7, 1) as in the warm-up [U]). Its last checkpoint is the load_from of
# diga-warmup-translator_*_gta5-to-cityscapes-512x896.py (stages_gta5_translator.py).
_base_ = [
    '../_base_/methods/diga_translator_munit_lite.py',
    '../_base_/datasets/diga_gta5_to_cityscapes_512x896.py'
]
translator_gta5_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='RandomResize', scale=(1280, 720), ratio_range=(0.7, 1.0),
                           keep_ratio=True)],
                     [dict(type='RandomResize', scale=(1914, 1052), ratio_range=(0.7, 1.0),
                           keep_ratio=True)]],
         prob=[0.5, 0.5]),
    dict(type='RandomCrop', crop_size=_base_.crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# The dataset base's (GTA5, Cityscapes) pairs through the translator's pipelines.
train_dataloader = dict(
    batch_size=2,
    dataset=dict(source=dict(pipeline=translator_gta5_pipeline),
                 target=dict(pipeline=_base_.diga_translator_cityscapes_pipeline)))
# No validation or test: the translator has no metric.
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None
