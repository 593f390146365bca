# Cityscapes, offline (round-based) source-free self-training with SelfTrainingLoop: train on
# Cityscapes train images with the round's pseudo-labels (written at full resolution, resized and
# cropped with the image: LoadPseudoLabels registers them as seg fields), validate on Cityscapes val.
# `cityscapes_label_dataloader` is the loop's labelling pass over the train images (test pipeline,
# no labels: source-free). Use it as
#   train_cfg = dict(type='SelfTrainingLoop', ..., label_dataloader={{_base_.cityscapes_label_dataloader}})
_base_ = ['./cityscapes_512x512_target.py']
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=False,  # rebuilt every round
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _base_.cityscapes_train_dataset,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadPseudoLabels'),
            dict(type='Resize', scale=(1024, 512), keep_ratio=True),
            dict(type='RandomCrop', crop_size=(512, 512)),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputsWithWeights'),
        ]))
cityscapes_label_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        _base_.cityscapes_train_dataset,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1024, 512), keep_ratio=True),
            dict(type='PackSegInputs'),
        ]))
