# Cityscapes as the target domain, DAFormer half-resolution protocol (SPEC 1.3).
# Train (unlabelled: no seg_map_path, no LoadAnnotations): resize to (1024, 512), 512x512 crops
# without cat_max_ratio, flip. Val/test: resize to (1024, 512) keeping the ratio, whole-image
# inference (the model's test_cfg); LoadAnnotations comes after Resize, so the prediction is resized
# back and scored against the full-resolution 2048x1024 labels.
# This file reports mmseg's 19-class mIoU (GTA5 -> Cityscapes); for SYNTHIA use the _synthia19 or
# _synthia16 variants. Labels: mmseg's tools/dataset_converters/cityscapes.py (*_labelTrainIds.png).
cityscapes_data_root = 'data/cityscapes'
cityscapes_crop_size = (512, 512)
cityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size=cityscapes_crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
cityscapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
cityscapes_train_dataset = dict(
    type='CityscapesDataset',
    data_root=cityscapes_data_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=cityscapes_train_pipeline)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CityscapesDataset',
        data_root=cityscapes_data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=cityscapes_test_pipeline))
test_dataloader = val_dataloader
# mIoU and calibration (ECE, classwise ECE, NLL, Brier) side by side.
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
