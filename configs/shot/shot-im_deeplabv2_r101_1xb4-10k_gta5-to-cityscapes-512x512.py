# SHOT-IM on GTA5 -> Cityscapes: information maximisation on Cityscapes train images with the
# classifier (DeepLabV2 ASPP) frozen as the source hypothesis; the backbone adapts.
# Start from the source model: --cfg-options load_from=<GTA5 source checkpoint>.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/cityscapes_512x512_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_cityscapes.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student={{_base_.model}},
    trainable=[r'backbone\.'],
    target_losses=[dict(type='InformationMaximizationLoss', ent_weight=1.0, div_weight=1.0)])
