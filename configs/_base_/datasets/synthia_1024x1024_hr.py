# SYNTHIA-RAND-CITYSCAPES source (19 Cityscapes classes), HRDA full-resolution protocol
# (arXiv:2204.13132, its public code's synthiaHR config): resized to fit (2560, 1520) keeping the
# aspect ratio, then 1024x1024 crops (cat_max_ratio 0.75), flip. Names as ./synthia_512x512.py.
_base_ = ['./synthia_512x512.py']
synthia_crop_size = (1024, 1024)
synthia_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(2560, 1520), keep_ratio=True),
    dict(type='RandomCrop', crop_size=synthia_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
synthia_train_dataset = dict(_base_.synthia_train_dataset, pipeline=synthia_train_pipeline)
train_dataloader = dict(dataset=dict(pipeline=synthia_train_pipeline))
