# As tent_deeplabv2_r101_1xb4-10k_gta5-to-cityscapes-512x512.py, for SYNTHIA -> Cityscapes
# with a 16-way head (DeepLabV2-era convention): the source model has 16 classes; Cityscapes val is
# remapped to them and mIoU16 / mIoU13 are reported.
# Start from the SYNTHIA source model: --cfg-options load_from=<SYNTHIA-16 source checkpoint>.
_base_ = ['./tent_deeplabv2_r101_1xb4-10k_gta5-to-cityscapes-512x512.py']
model = dict(student=dict(decode_head=dict(num_classes=16)))
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = _base_.synthia16_val_evaluator
test_evaluator = val_evaluator
