# Cityscapes as ATP's target in its public code's setting (DAFormer-based, arXiv:2106.11653's
# released configs): images resized to (1280, 640), 640x640 crops, flip; validated at (1280, 640)
# against the full-resolution labels. Three train sets for the three steps:
# - `train_dataloader`: single images with 640x640 crops (Align);
# - `cityscapes640_full_train_dataset`: whole resized images (the public Teach crops inside the
#   model, on the pseudo-label: set the data preprocessor's size to (640, 1280));
# - `cityscapes640_easy_hard_dataset` + `cityscapes640_rank_dataloader`: Propagate's easy/hard
#   pairs.
_base_ = ['./cityscapes_512x512_target.py']
cityscapes640_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
cityscapes640_train_dataset = dict(_base_.cityscapes_train_dataset,
                                   pipeline=cityscapes640_train_pipeline)
cityscapes640_full_train_dataset = dict(
    cityscapes640_train_dataset,
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(1280, 640), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ])
cityscapes640_easy_hard_dataset = dict(type='EasyHardPairDataset',
                                       dataset=cityscapes640_train_dataset)
cityscapes640_rank_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        cityscapes640_train_dataset,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1280, 640), keep_ratio=True),
            dict(type='PackSegInputs'),
        ]))
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=cityscapes640_train_dataset)
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]))
test_dataloader = val_dataloader
