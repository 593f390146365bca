# GTA5 source, DAFormer half-resolution protocol (arXiv:2111.14887): 1914x1052 frames are
# resized to fit (1280, 720) keeping the aspect ratio (about 1280x704), then cropped to 512x512.
# Normalisation and padding happen in the model's SegDataPreProcessor (size=(512, 512)).
# Names are prefixed (gta5_*) so this file combines with a target base without key clashes.
# Convert the labels first: python tools/dataset_converters/gta.py data/gta --nproc 8
gta5_data_root = 'data/gta'
gta5_crop_size = (512, 512)
gta5_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=gta5_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
gta5_train_dataset = dict(
    type='GTA5Dataset',
    data_root=gta5_data_root,
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=gta5_train_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=gta5_train_dataset)
