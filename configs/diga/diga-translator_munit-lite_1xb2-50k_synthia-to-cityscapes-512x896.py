# DiGA's image translator on SYNTHIA <-> Cityscapes train: as the GTA5 translator
# (diga-translator_munit-lite_1xb2-50k_gta5-to-cityscapes-512x896.py) with SYNTHIA as the
# source, each image low-res (fit to 1280x760) or full-res (1920x1140) with probability 1/2,
# cropped to 512x896 without rescaling (as DiGA's SYNTHIA loaders). Its last checkpoint is the
# load_from of diga-warmup-translator_*_synthia-to-cityscapes-512x896.py.
_base_ = [
    '../_base_/methods/diga_translator_munit_lite.py',
    '../_base_/datasets/diga_synthia_to_cityscapes_512x896.py'
]
translator_synthia_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomChoice',
         transforms=[[dict(type='Resize', scale=(1280, 760), keep_ratio=True)],
                     [dict(type='Resize', scale=(1920, 1140), keep_ratio=True)]],
         prob=[0.5, 0.5]),
    dict(type='RandomCrop', crop_size=_base_.crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# The dataset base's (SYNTHIA, Cityscapes) pairs through the translator's pipelines.
train_dataloader = dict(
    batch_size=2,
    dataset=dict(source=dict(pipeline=translator_synthia_pipeline),
                 target=dict(pipeline=_base_.diga_translator_cityscapes_pipeline)))
# No validation or test: the translator has no metric.
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None
