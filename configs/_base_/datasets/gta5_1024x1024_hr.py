# GTA5 source, HRDA full-resolution protocol (arXiv:2204.13132, its public code's gtaHR config):
# the 1914x1052 frames resized to fit (2560, 1440) keeping the aspect ratio (about 2560x1407),
# then 1024x1024 crops (cat_max_ratio 0.75), flip. Names as ./gta5_512x512.py.
_base_ = ['./gta5_512x512.py']
gta5_crop_size = (1024, 1024)
gta5_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(2560, 1440), keep_ratio=True),
    dict(type='RandomCrop', crop_size=gta5_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
gta5_train_dataset = dict(_base_.gta5_train_dataset, pipeline=gta5_train_pipeline)
train_dataloader = dict(dataset=dict(pipeline=gta5_train_pipeline))
