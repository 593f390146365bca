# MIC on HRDA (../_base_/methods/mic_hrda_mitb5.py) on
# SYNTHIA -> Cityscapes (19-way head; mIoU19 / mIoU16 /
# mIoU13): 1024x1024 crops of the 2x-size images, context at scale 0.5, detail 512x512; rare
# class sampling with min_crop_ratio 2.0.
_base_ = ['../_base_/methods/mic_hrda_mitb5.py',
          '../_base_/datasets/synthia_to_cityscapes_1024x1024_hr.py']
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=2.0)))
