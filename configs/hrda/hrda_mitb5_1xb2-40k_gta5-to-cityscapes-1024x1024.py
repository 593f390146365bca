# HRDA (../_base_/methods/hrda_mitb5.py) on GTA5 -> Cityscapes: 1024x1024 crops of the 2x-size
# images (GTA5 at ~2560x1407, Cityscapes at 2048x1024), context at scale 0.5, detail 512x512;
# rare class sampling with min_crop_ratio 2.0 (HRDA: 4x the pixels of DAFormer's crops).
_base_ = ['../_base_/methods/hrda_mitb5.py',
          '../_base_/datasets/gta5_to_cityscapes_1024x1024_hr.py']
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=2.0)))
