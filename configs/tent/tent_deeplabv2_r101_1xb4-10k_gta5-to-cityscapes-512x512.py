# TENT on GTA5 -> Cityscapes: entropy minimisation on Cityscapes train images, adapting only the
# BatchNorm affine parameters of the source DeepLabV2-R101 (BN switched to batch statistics, i.e.
# norm_eval off). Start from the source model: --cfg-options load_from=<GTA5 source checkpoint>.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/cityscapes_512x512_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_cityscapes.py'
]
student = _base_.model
student.backbone.norm_eval = False
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student=student,
    trainable='norm',
    target_losses=[dict(type='EntropyLoss')])
