# TENT (Wang et al., ICLR 2021): minimise the prediction entropy on target batches, adapting only
# the affine parameters of the normalisation layers (BN uses target batch statistics in training).
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student={{_base_.model}},
    trainable='norm',
    target_losses=[dict(type='EntropyLoss')])
