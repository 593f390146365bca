# Source-only DeepLabV2-ResNet-101 on GTA5 (the baseline every adaptation result is compared with),
# evaluated on Cityscapes val: the target mIoU of a model that never saw the target. The best
# checkpoints by mIoU and by ECE are both kept (CalibrationMetric beside IoUMetric).
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/gta5_512x512.py',
    '../_base_/datasets/cityscapes_512x512_target.py', '../_base_/default_runtime.py',
    '../_base_/schedules/sgd_poly_iter.py'
]
crop_size = (512, 512)

train_dataloader = dict(batch_size=4)
