# DACS / DAFormer-style UDA (SPEC 2.2-2.4): EMA teacher (alpha 0.99 with the 1 - 1/(t+1) ramp),
# pseudo-labels with the scalar DACS weight (fraction of pixels above 0.968), ClassMix of source
# classes into the target image, strong colour jitter + blur, rare class sampling of source images.
# Starts from a source model: --cfg-options load_from=<source checkpoint>.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_uda.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='uda',
    student={{_base_.model}},
    pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='dacs'),
    mixer=dict(type='ClassMix', batch_unique=False),
    strong_augment=dict(type='StrongAugment'),
    target_losses=[dict(type='PseudoLabelCELoss')],
    teacher_mode='train')
optim_wrapper = dict(optimizer=dict(lr=0.01))
custom_hooks = [
    dict(type='MeanTeacherHook', momentum=0.99),
    dict(type='PseudoLabelStatsHook', interval=50),
]
