# SHOT-IM (Liang et al., ICML 2020): information maximisation (confident and diverse predictions)
# with the classifier frozen as the source hypothesis; only the feature extractor adapts.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student={{_base_.model}},
    trainable=[r'backbone\.'],
    target_losses=[dict(type='InformationMaximizationLoss', ent_weight=1.0, div_weight=1.0)])
