# SHOT-IM (../_base_/methods/shot.py) on GTA5 -> Cityscapes: information maximisation on Cityscapes
# train images; the DeepLabV2 ASPP classifier is frozen as the source hypothesis, the backbone
# adapts (its BN stays frozen, as the source model's fixbn).
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/shot.py',
    '../_base_/datasets/cityscapes_512x512_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
