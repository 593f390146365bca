# FDA (../_base_/methods/fda_deeplabv2_r101.py) on GTA5 -> Cityscapes.
_base_ = ['../_base_/methods/fda_deeplabv2_r101.py', '../_base_/datasets/gta5_to_cityscapes_512x512.py']
train_dataloader = dict(batch_size=1)
