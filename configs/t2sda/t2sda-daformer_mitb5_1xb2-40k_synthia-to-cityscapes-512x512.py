# T2S-DA on DAFormer (../_base_/methods/t2sda_mitb5.py), SYNTHIA -> Cityscapes (19-way head; mIoU19/16/13).
_base_ = ['../_base_/methods/t2sda_mitb5.py', '../_base_/datasets/synthia_to_cityscapes_512x512.py']
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)))
