# SYNTHIA-RAND-CITYSCAPES source with the 19 Cityscapes classes (terrain, truck, train never occur),
# DAFormer half-resolution protocol (arXiv:2111.14887): resize to fit (1280, 760) keeping the
# aspect ratio, then 512x512 crops. Evaluate with cityscapes_512x512_target_synthia19.py
# (mIoU19/16/13); for a 16-way head use synthia16_512x512.py and
# cityscapes_512x512_target_synthia16.py instead.
# Convert the labels first: python tools/dataset_converters/synthia.py data/synthia --nproc 8
synthia_data_root = 'data/synthia'
synthia_crop_size = (512, 512)
synthia_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 760), keep_ratio=True),
    dict(type='RandomCrop', crop_size=synthia_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
synthia_train_dataset = dict(
    type='SynthiaDataset',
    data_root=synthia_data_root,
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
    pipeline=synthia_train_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=synthia_train_dataset)
