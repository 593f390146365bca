# SYNTHIA (16 classes) with a held-out source validation split (source-side model selection of
# Cal-SFDA, arXiv:2308.03003): train on splits/train.txt, validate on splits/val.txt (mIoU16/13,
# calibration).
# Make the split once:
#   python tools/dataset_converters/make_split.py data/synthia --img-dir RGB --num-val 500 --seed 0
_base_ = ['./synthia16_512x512.py']
train_dataloader = dict(dataset=dict(ann_file='splits/train.txt'))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Synthia16Dataset',
        data_root='data/synthia',
        ann_file='splits/val.txt',
        data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1280, 760), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia16'),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
