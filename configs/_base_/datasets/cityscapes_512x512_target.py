# Cityscapes as the target domain, DAFormer half-resolution protocol (arXiv:2111.14887, as in its
# public code's configs).
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
# `tools/test.py CONFIG CKPT --tta`: scales x0.75, x1, x1.25, x1.5 of the 1024x512 test scale
# (scale_factor is relative to the 2048x1024 original) and flips; SegTTAModel averages them.
cityscapes_tta_ratios = [0.375, 0.5, 0.625, 0.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in cityscapes_tta_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
cityscapes_train_dataset = dict(
    type='CheckedCityscapesDataset',
    data_root=cityscapes_data_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=cityscapes_train_pipeline)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CheckedCityscapesDataset',
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
# SYNTHIA -> Cityscapes: the means over the SYNTHIA class subsets (SubsetIoUMetric
# presets) beside calibration, for a 16-way head (mIoU16 / mIoU13; the val labels remapped with
# Cityscapes16Dataset) or a 19-way head (mIoU19 / mIoU16 / mIoU13). A config evaluated so says
#   val_evaluator = _base_.synthia16_val_evaluator
synthia16_val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia16'),
    dict(type='CalibrationMetric', n_bins=15)
]
synthia19_val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia19'),
    dict(type='CalibrationMetric', n_bins=15)
]
