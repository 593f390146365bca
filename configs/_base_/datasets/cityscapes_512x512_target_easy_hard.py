# Cityscapes, ATP's Propagate: pairs of an easy and a hard Cityscapes train image
# (EasyHardPairDataset; EntropySplitLoop ranks the train images with the loaded model and sets
# split_dir), each through the usual target pipeline (resize to (1024, 512), 512x512 crop, flip);
# validated on Cityscapes val. `cityscapes_rank_dataloader` is the loop's ranking pass (test
# pipeline, no labels: source-free).
#   train_cfg = dict(type='EntropySplitLoop', ...,
#                    rank_dataloader={{_base_.cityscapes_rank_dataloader}})
_base_ = ['./cityscapes_512x512_target.py']
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='EasyHardPairDataset', dataset={{_base_.cityscapes_train_dataset}}))
cityscapes_rank_dataloader = dict(
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
