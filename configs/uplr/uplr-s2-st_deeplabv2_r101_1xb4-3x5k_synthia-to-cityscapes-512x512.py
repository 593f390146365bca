# UPLR stage 2 (./uplr-s2-st_..._gta5-to-cityscapes-512x512.py) after SYNTHIA: the same rounds
# and 19-way head, evaluated with the SYNTHIA protocol (mIoU19 / mIoU16 / mIoU13 on Cityscapes
# val, ../_base_/datasets/cityscapes_512x512_target_synthia19.py).
_base_ = ['./uplr-s2-st_deeplabv2_r101_1xb4-3x5k_gta5-to-cityscapes-512x512.py']
val_evaluator = _base_.synthia19_val_evaluator
test_evaluator = val_evaluator
