# DAFormer (../_base_/methods/daformer_mitb5.py) on GTA5 -> Cityscapes.
_base_ = ['../_base_/methods/daformer_mitb5.py', '../_base_/datasets/gta5_to_cityscapes_512x512.py']
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)))
