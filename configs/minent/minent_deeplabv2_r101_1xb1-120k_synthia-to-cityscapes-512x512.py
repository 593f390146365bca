# MinEnt (../_base_/methods/minent_deeplabv2_r101.py) on SYNTHIA -> Cityscapes (19-way head; mIoU19 / mIoU16 / mIoU13).
_base_ = ['../_base_/methods/minent_deeplabv2_r101.py', '../_base_/datasets/synthia_to_cityscapes_512x512.py']
train_dataloader = dict(batch_size=1)
