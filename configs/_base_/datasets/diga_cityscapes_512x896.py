# Cityscapes as DiGA's target (arXiv:2304.02222; its public code): 512x896 training crops, the
# offline-label and prototype-init passes at full resolution (2048x1024; the loop's label_tta adds
# the half scale), validation single-scale at (1024, 512) as the other configs and, with
# `tools/test.py CONFIG CKPT --tta`, DiGA's protocol: full + half resolution fused by element-wise
# max (`tta_model = dict(type='MaxFusionSegTTAModel')` in the config), scored at 2048x1024.
# Names are prefixed (diga_*) so this file combines with a source base without key clashes.
_base_ = ['./cityscapes_512x512_target.py']
diga_crop_size = (512, 896)
# Warm-up: target images are only FDA styles (or nothing): half resolution, a 512x896 crop.
diga_cityscapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size=diga_crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Self-training: the round's offline labels (full resolution) move with the image; scales between
# half and full resolution (DiGA mixes low-res and full-res streams, each rescaled by U(0.7, 1)).
diga_cityscapes_selftrain_dataset = dict(
    _base_.cityscapes_train_dataset,
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadPseudoLabels'),
        dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 1.0), keep_ratio=True),
        dict(type='RandomCrop', crop_size=diga_crop_size),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputsWithWeights'),
    ])
# Every target train image once, full resolution, no labels (offline labels and prototypes).
diga_cityscapes_full_res_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(_base_.cityscapes_train_dataset,
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[[dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
                      dict(type='Resize', scale=(1024, 512), keep_ratio=True)],
                     [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
