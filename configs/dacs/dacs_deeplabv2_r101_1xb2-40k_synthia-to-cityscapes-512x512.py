# As dacs_deeplabv2_r101_1xb2-40k_gta5-to-cityscapes-512x512.py, for SYNTHIA -> Cityscapes with
# the DAFormer convention: a 19-way head (terrain, truck and train never occur in SYNTHIA) and
# mIoU19 / mIoU16 / mIoU13 reported on Cityscapes val. SYNTHIA images resize to (1280, 760).
_base_ = ['./dacs_deeplabv2_r101_1xb2-40k_gta5-to-cityscapes-512x512.py']
train_dataloader = dict(
    dataset=dict(
        source=dict(
            type='SynthiaDataset',
            data_root='data/synthia',
            data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='Resize', scale=(1280, 760), keep_ratio=True),
                dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PackSegInputs'),
            ])))
val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia19'),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
