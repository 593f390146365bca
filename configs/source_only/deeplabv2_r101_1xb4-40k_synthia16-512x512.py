# Source-only DeepLabV2-ResNet-101 on SYNTHIA with a 16-way head (the DeepLabV2-era convention),
# evaluated on Cityscapes val remapped to the 16 classes: reports mIoU16 and mIoU13.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/synthia16_512x512.py',
    '../_base_/datasets/cityscapes_512x512_target_synthia16.py', '../_base_/default_runtime.py',
    '../_base_/schedules/sgd_poly_iter.py'
]
crop_size = (512, 512)
model = dict(decode_head=dict(num_classes=16))
train_dataloader = dict(batch_size=4)
default_hooks = dict(checkpoint=dict(save_best=['mIoU16', 'ECE'], rule=['greater', 'less']))
