# DACS / DAFormer-style UDA on GTA5 -> Cityscapes with DeepLabV2-ResNet-101 (SPEC 2.2-2.4):
# EMA teacher (alpha 0.999, DAFormer), labels from the teacher in train mode with the scalar DACS
# weight (fraction of pixels with confidence >= 0.968), pseudo-label rows 0-14 and the last 120 rows
# ignored, ClassMix, colour jitter + blur, rare class sampling (T=0.01, 3000 px, crop ratio 0.5),
# AdamW lr 6e-5 (head x10), linear warm-up 1500 iterations then poly(1.0), 40k iterations, batch 2.
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/gta5_512x512.py',
    '../_base_/datasets/cityscapes_512x512_target.py', '../_base_/default_runtime.py',
    '../_base_/schedules/sgd_poly_iter.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='uda',
    student={{_base_.model}},
    pseudo_labeler=dict(
        type='ThresholdLabeler', threshold=0.968, weight_mode='dacs', ignore_top=15,
        ignore_bottom=120),
    mixer=dict(type='ClassMix', batch_unique=True),
    strong_augment=dict(type='StrongAugment'),
    target_losses=[dict(type='PseudoLabelCELoss')],
    teacher_mode='train')
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source={{_base_.gta5_train_dataset}},
        target={{_base_.cityscapes_train_dataset}},
        rare_class_sampling=dict(temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'student.decode_head': dict(lr_mult=10.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0., by_epoch=False, begin=1500, end=40000)
]
custom_hooks = [
    dict(type='MeanTeacherHook', momentum=0.999),
    dict(type='PseudoLabelStatsHook', interval=50),
]
