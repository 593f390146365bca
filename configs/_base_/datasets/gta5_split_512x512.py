# GTA5 with a held-out source validation split (source-side model selection of Cal-SFDA,
# arXiv:2308.03003):
# train on splits/train.txt, validate on splits/val.txt (mIoU and calibration at 1280x720). Make the
# split once:  python tools/dataset_converters/make_split.py data/gta --num-val 500 --seed 0
_base_ = ['./gta5_512x512.py']
train_dataloader = dict(dataset=dict(ann_file='splits/train.txt'))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='GTA5Dataset',
        data_root='data/gta',
        ann_file='splits/val.txt',
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1280, 720), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ]))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
