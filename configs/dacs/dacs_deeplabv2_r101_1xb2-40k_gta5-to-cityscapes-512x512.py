# DACS / DAFormer-style UDA on GTA5 -> Cityscapes with DeepLabV2-ResNet-101
# (../_base_/methods/dacs_deeplabv2_r101.py; DACS arXiv:2007.08702, DAFormer arXiv:2111.14887
# Sec. 3.1 and 3.3, configs/daformer/README.md): batch 2, rare class sampling of the
# GTA5 images (T=0.01, 3000 px, crop ratio 0.5).
_base_ = [
    '../_base_/methods/dacs_deeplabv2_r101.py', '../_base_/datasets/gta5_to_cityscapes_512x512.py'
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)))
