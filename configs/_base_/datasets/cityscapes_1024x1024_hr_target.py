# Cityscapes as the target domain, HRDA full-resolution protocol (arXiv:2204.13132, as in its
# public code's cityscapesHR configs): train frames at 2048x1024 (Resize to fit, a no-op for
# Cityscapes), HRDA's pseudo-label margins (top 30, bottom 240, left 30, right 30 pixels of the
# frame: PseudoLabelMargins, made before the crop and cropped/flipped with the image), 1024x1024
# crops, flip; PackSegInputsWithWeights packs the margin mask. Val/test at 2048x1024 (the model's
# test_cfg slides 1024x1024 windows). 19-class mIoU and calibration; SYNTHIA: the _synthia19
# variant.
_base_ = ['./cityscapes_512x512_target.py']
cityscapes_crop_size = (1024, 1024)
cityscapes_pseudo_margins = (30, 240, 30, 30)
cityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='PseudoLabelMargins', margins=cityscapes_pseudo_margins),
    dict(type='RandomCrop', crop_size=cityscapes_crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputsWithWeights'),
]
cityscapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
cityscapes_train_dataset = dict(
    type='CityscapesDataset',
    data_root=_base_.cityscapes_data_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=cityscapes_train_pipeline)
val_dataloader = dict(dataset=dict(pipeline=cityscapes_test_pipeline))
test_dataloader = val_dataloader
