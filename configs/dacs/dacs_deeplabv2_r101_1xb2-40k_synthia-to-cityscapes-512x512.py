# As dacs_deeplabv2_r101_1xb2-40k_gta5-to-cityscapes-512x512.py, for SYNTHIA -> Cityscapes with the
# DAFormer convention: a 19-way head (terrain, truck and train never occur in SYNTHIA), mIoU19 /
# mIoU16 / mIoU13 reported on Cityscapes val; SYNTHIA images resize to (1280, 760).
_base_ = [
    '../_base_/methods/dacs_deeplabv2_r101.py',
    '../_base_/datasets/synthia_to_cityscapes_512x512.py'
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)))
