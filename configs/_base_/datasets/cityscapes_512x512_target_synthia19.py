# Cityscapes target for SYNTHIA -> Cityscapes with a 19-way head (DAFormer, MIC, ATP): 19-class
# evaluation, plus the means over the 16 SYNTHIA classes and over 13 (16 minus wall, fence, pole).
_base_ = './cityscapes_512x512_target.py'
# mIoU over the SYNTHIA class subsets (SubsetIoUMetric preset, SPEC 1.2).
val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia19'),
    dict(type='CalibrationMetric', n_bins=15)
]
test_evaluator = val_evaluator
