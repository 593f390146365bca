# Align on SYNTHIA -> Cityscapes (16 classes): the GTA5 config with a 16-way head, evaluated
# with mIoU16 / mIoU13 on Cityscapes val remapped to the 16 SYNTHIA classes.
_base_ = ['./atp-align_deeplabv2_r101_1xb4-10k_gta5-to-cityscapes-512x512.py']
model = dict(student=dict(decode_head=dict(num_classes=16)))
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = _base_.synthia16_val_evaluator
test_evaluator = val_evaluator
