# Cityscapes target for SYNTHIA -> Cityscapes with a 19-way head (DAFormer, MIC, ATP): 19-class
# evaluation, plus the means over the 16 SYNTHIA classes and over the 13 (16 minus wall, fence, pole).
# The class lists equal mmsfda.evaluation.metrics.subset_iou_metric.SYNTHIA_19WAY_SUBSETS.
_base_ = './cityscapes_512x512_target.py'
val_evaluator = dict(
    type='SubsetIoUMetric',
    subsets=dict(
        mIoU19=[
            'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
            'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
            'bus', 'train', 'motorcycle', 'bicycle'
        ],
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
