# SYNTHIA -> Cityscapes for DiGA (arXiv:2304.02222; its public code): batch 3 of (SYNTHIA,
# Cityscapes) pairs, SYNTHIA resized to fit (1280, 760) and randomly cropped to 512x896 (no
# rescaling, as the code), flip; a 19-way head reporting mIoU19 / mIoU16 / mIoU13 (the DAFormer
# convention of the other SYNTHIA configs).
_base_ = ['./synthia_512x512.py', './diga_cityscapes_512x896.py']
val_evaluator = _base_.synthia19_val_evaluator
test_evaluator = val_evaluator
diga_synthia_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 760), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 896)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
diga_synthia_dataset = dict(_base_.synthia_train_dataset, pipeline=diga_synthia_pipeline)
# The source base's loader (4 workers, infinite sampler) with batches of 3 pairs.
train_dataloader = dict(
    batch_size=3,
    dataset=dict(
        _delete_=True,  # not the source base's single dataset
        type='DomainPairDataset',
        source=diga_synthia_dataset,
        target=dict(_base_.cityscapes_train_dataset, pipeline=_base_.diga_cityscapes_train_pipeline)))
