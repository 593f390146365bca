# Cityscapes target for SYNTHIA -> Cityscapes with a 19-way head (DAFormer, MIC, ATP): 19-class
# evaluation, plus the means over the 16 SYNTHIA classes and over 13 (16 minus wall, fence, pole).
_base_ = './cityscapes_512x512_target.py'
val_evaluator = _base_.synthia19_val_evaluator
test_evaluator = val_evaluator
