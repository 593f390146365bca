# Cal-SFDA stage 3 on SYNTHIA (16 classes) -> Cityscapes: the GTA5 recipe with a 16-way head,
# validated on Cityscapes val remapped to the 16 SYNTHIA classes (mIoU16 / mIoU13, as
# ../_base_/datasets/cityscapes_512x512_target_synthia16.py). mmseg's `mIoU`, which the checkpoint
# selection reads, equals mIoU16 for a 16-way head.
#   --cfg-options load_from=<SYNTHIA stage-2 checkpoint>
_base_ = ['./calsfda-s3-adapt_deeplabv2_r101_1xb4-2x5k_gta5-to-cityscapes-512x512.py']
num_classes = 16
model = dict(
    student=dict(
        decode_head=dict(num_classes=num_classes), value_head=dict(num_classes=num_classes)),
    pseudo_labeler=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(type='Cityscapes16Dataset'))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='SubsetIoUMetric', subsets='synthia16'),
    dict(type='CalibrationMetric', n_bins=15),
    dict(type='EstimatedECEMetric'),
]
test_evaluator = val_evaluator
