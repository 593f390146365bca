# Toy benchmark, ATP's Propagate: pairs of an easy and a hard target train image
# (EasyHardPairDataset; EntropySplitLoop writes the split and sets split_dir), validated and tested
# on target val. `toy_rank_dataloader` is the loop's ranking pass over target train (test-time
# pipeline, each image once). Target labels are loaded for pseudo-label statistics only.
#   train_cfg = dict(type='EntropySplitLoop', ..., rank_dataloader={{_base_.toy_rank_dataloader}})
_base_ = ['./toy_source_to_target.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='EasyHardPairDataset',
        dataset=dict(_base_.train_dataloader.dataset, data_root='data/toy/target')))
toy_rank_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(_base_.toy_target_train_dataset,
                 pipeline=[dict(type='CheckedLoadImageFromFile'), dict(type='PackSegInputs')]))
