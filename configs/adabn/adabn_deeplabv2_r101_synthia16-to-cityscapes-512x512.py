# As adabn_deeplabv2_r101_gta5-to-cityscapes-512x512.py, for SYNTHIA -> Cityscapes with a 16-way
# head; Cityscapes val remapped to the 16 classes (mIoU16 / mIoU13).
_base_ = ['./adabn_deeplabv2_r101_gta5-to-cityscapes-512x512.py']
model = dict(decode_head=dict(num_classes=16))
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = _base_.synthia16_val_evaluator
test_evaluator = val_evaluator
