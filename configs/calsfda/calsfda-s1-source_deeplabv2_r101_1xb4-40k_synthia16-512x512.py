# Cal-SFDA stage 1 on synthia16: DeepLabV2-ResNet-101 (ImageNet init, frozen BN), CE + 1.0 * ClassECE
# (10 bins, t = 1e-5), validated on a held-out source split every 4k iterations; every validated
# checkpoint is kept and CheckpointSelectionHook writes each selection rule's pick to
# <work_dir>/checkpoint_selection.json (SPEC 3.4). Batch 4 as the paper; 40k iterations stand for its
# 40 epochs at 512x512 crops (its 600 crops of 720-pixel images).
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/synthia16_split_512x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_poly_iter.py'
]
crop_size = (512, 512)
model = dict(
    decode_head=dict(
        num_classes=16,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            dict(type='DifferentiableECELoss', n_bins=10, lse_t=1e-5, class_level=True,
                 average='all', loss_weight=1.0),
        ]))
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=-1, save_best=['mIoU16', 'ECE'], rule=['greater', 'less']))
custom_hooks = [
    dict(type='CheckpointSelectionHook',
         rules=[
             dict(name='min_ece', key='ECE', mode='min'),
             dict(name='max_miou', key='mIoU16', mode='max'),
             dict(name='min_ece_within_miou', key='ECE', mode='min',
                  within=dict(key='mIoU16', margin=1.0)),
         ])
]
