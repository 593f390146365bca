# ACDC (Sakaridis et al., ICCV 2021; mmsfda/datasets/acdc.py, docs/datasets.md) as ATP's target in
# its public code's Cityscapes -> ACDC setting (its uda_cityscapes_to_ACDC_640x640_*no_crop.py
# dataset configs): the 1920x1080 frames resized to (1280, 720), 640x640 crops, flip; validated on
# ACDC val at (1280, 720) against the full-resolution labels (ACDC's test labels are not public).
# Train images are read without labels (source-free). All four conditions here; a per-condition
# config sets `conditions` on every ACDC dataset it uses (train, ranking, val, test):
#   train_dataloader = dict(dataset=dict(conditions=('night', )))   # and val/test_dataloader
# (the `acdc640_*` variables below are the all-condition templates the dataloaders start from).
# Three train sets for ATP's three steps, as in cityscapes_640x640_target_atp.py:
# - `train_dataloader`: single images with 640x640 crops (Align);
# - `acdc640_full_train_dataset`: whole resized images (the public Teach crops inside the model,
#   on the pseudo-label: set the data preprocessor's size to (720, 1280));
# - `acdc640_easy_hard_dataset` + `acdc640_rank_dataloader`: Propagate's easy/hard pairs and the
#   entropy ranking pass over the train images at the test scale (the public entropy_rank_acdc).
acdc_data_root = 'data/acdc'
acdc640_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
acdc640_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# `tools/test.py CONFIG CKPT --tta`: x0.75, x1, x1.25, x1.5 of the (1280, 720) test scale
# (scale_factor is relative to the 1920x1080 original) and flips.
acdc_tta_ratios = [0.5, 2 / 3, 5 / 6, 1.0]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in acdc_tta_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
acdc640_train_dataset = dict(
    type='ACDCDataset',
    data_root=acdc_data_root,
    conditions=('fog', 'night', 'rain', 'snow'),
    split='train',
    data_prefix=dict(img_path='rgb_anon'),
    pipeline=acdc640_train_pipeline)
acdc640_full_train_dataset = dict(
    acdc640_train_dataset,
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(1280, 720), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ])
acdc640_easy_hard_dataset = dict(type='EasyHardPairDataset', dataset=acdc640_train_dataset)
acdc640_rank_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        acdc640_train_dataset,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1280, 720), keep_ratio=True),
            dict(type='PackSegInputs'),
        ]))
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=acdc640_train_dataset)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ACDCDataset',
        data_root=acdc_data_root,
        conditions=('fog', 'night', 'rain', 'snow'),
        split='val',
        data_prefix=dict(img_path='rgb_anon', seg_map_path='gt'),
        pipeline=acdc640_test_pipeline))
test_dataloader = val_dataloader
# mIoU (Cityscapes' 19 classes) and calibration (ECE, classwise ECE, NLL, Brier) side by side.
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
