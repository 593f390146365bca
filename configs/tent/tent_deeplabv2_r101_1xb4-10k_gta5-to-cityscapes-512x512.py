# TENT (../_base_/methods/tent.py) on GTA5 -> Cityscapes: entropy minimisation on Cityscapes train
# images. TENT adapts the BatchNorm affine parameters with batch statistics, so the source
# DeepLabV2-R101's BN, frozen and in eval mode for source training (fixbn), is made trainable and
# switched to batch statistics here; everything else stays frozen.
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/tent.py',
    '../_base_/datasets/cityscapes_512x512_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
student = _base_.model
student.backbone.update(norm_eval=False, norm_cfg=dict(type='BN', requires_grad=True))
model = dict(_base_.method_model, _delete_=True, student=student)
