# Source-free adaptation to Cityscapes: train on Cityscapes train images (no labels), validate on
# Cityscapes val (mIoU and calibration). Batch 4 of 512x512 crops.
_base_ = ['./cityscapes_512x512_target.py']
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset={{_base_.cityscapes_train_dataset}})
