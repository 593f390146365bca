# Cityscapes target for SYNTHIA -> Cityscapes with a 16-way head (DiGA, Cal-SFDA, ...): the val
# labels are remapped to the 16 SYNTHIA classes at load time (terrain, truck, train -> 255), and
# mIoU16 / mIoU13 are reported (mIoU16 equals mmseg's mIoU here; it is named for save_best).
# The class lists equal mmsfda.evaluation.metrics.subset_iou_metric.SYNTHIA_16WAY_SUBSETS.
_base_ = './cityscapes_512x512_target.py'
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='SubsetIoUMetric',
    subsets=dict(
        mIoU16=[
            'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
            'traffic sign', 'vegetation', 'sky', 'person', 'rider', 'car', 'bus', 'motorcycle',
            'bicycle'
        ],
        mIoU13=[
            'road', 'sidewalk', 'building', 'traffic light', 'traffic sign', 'vegetation', 'sky',
            'person', 'rider', 'car', 'bus', 'motorcycle', 'bicycle'
        ]))
test_evaluator = val_evaluator
