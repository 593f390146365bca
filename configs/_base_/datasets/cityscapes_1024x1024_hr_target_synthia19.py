# Cityscapes target at full resolution (./cityscapes_1024x1024_hr_target.py) for SYNTHIA ->
# Cityscapes with a 19-way head: mIoU19 / mIoU16 / mIoU13 beside calibration.
_base_ = './cityscapes_1024x1024_hr_target.py'
val_evaluator = _base_.synthia19_val_evaluator
test_evaluator = val_evaluator
