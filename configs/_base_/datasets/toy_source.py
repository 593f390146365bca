# Toy benchmark, source domain: 128x256 synthetic road scenes with 10 classes (ToyCityDataset),
# trained on source train, validated and tested on source val. No resize: the images are already
# the crop size (the model's SegDataPreProcessor uses size=crop_size). The checked loaders fail with
# the file's name on a missing or corrupt file or on a label id outside [0, 10) other than 255.
# Generate the data first: python tools/make_toy_data.py --out data/toy
# Each domain's folder is a dataset root (data/toy/source, data/toy/target): it also holds the
# rare-class-sampling statistics (sample_class_stats.json) that DomainPairDataset looks for there.
data_root = 'data/toy'
crop_size = (128, 256)
toy_num_classes = 10
toy_train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=toy_num_classes),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
toy_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes=toy_num_classes),
    dict(type='PackSegInputs'),
]
# `tools/test.py CONFIG CKPT --tta`: multi-scale (x0.75, x1, x1.25) and flip test-time augmentation;
# mmseg's SegTTAModel (tta_model in ../default_runtime.py) averages the softmax outputs.
toy_tta_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in toy_tta_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='CheckedLoadAnnotations', num_classes=toy_num_classes)],
            [dict(type='PackSegInputs')],
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ToyCityDataset',
        data_root=data_root + '/source',
        data_prefix=dict(img_path='images/train', seg_map_path='labels/train'),
        pipeline=toy_train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ToyCityDataset',
        data_root=data_root + '/source',
        data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
        pipeline=toy_test_pipeline))
test_dataloader = val_dataloader
# mIoU and calibration (ECE, classwise ECE, NLL, Brier) side by side.
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
