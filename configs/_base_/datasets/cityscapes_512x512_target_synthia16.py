# Cityscapes target for SYNTHIA -> Cityscapes with a 16-way head (DiGA, Cal-SFDA, ...): the val
# labels are remapped to the 16 SYNTHIA classes at load time (terrain, truck, train -> 255), and
# mIoU16 / mIoU13 are reported (mIoU16 equals mmseg's mIoU here; it is named for save_best).
_base_ = './cityscapes_512x512_target.py'
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = _base_.synthia16_val_evaluator
test_evaluator = val_evaluator
