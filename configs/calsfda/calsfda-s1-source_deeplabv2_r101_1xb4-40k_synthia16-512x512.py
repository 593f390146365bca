# Cal-SFDA stage 1 on SYNTHIA with a 16-way head (../_base_/methods/calsfda_s1_deeplabv2_r101.py),
# validated on a held-out SYNTHIA split (mIoU16 / mIoU13) every 4k iterations.
_base_ = [
    '../_base_/methods/calsfda_s1_deeplabv2_r101.py',
    '../_base_/datasets/synthia16_split_512x512.py'
]
model = dict(decode_head=dict(num_classes=16))
train_dataloader = dict(batch_size=4)
