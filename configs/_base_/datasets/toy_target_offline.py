# Toy benchmark, offline (round-based) source-free self-training with SelfTrainingLoop: train on
# target train images with the round's pseudo-labels (the loop sets LoadPseudoLabels' directory),
# validate and test on target val. `toy_label_dataloader` is the loop's labelling pass: the same
# images with a test-time pipeline. Their labels are loaded only for the pseudo-label accuracy in
# each round's manifest.json and log (diagnostics, never trained on). Use it in a config as
#   train_cfg = dict(type='SelfTrainingLoop', ..., label_dataloader={{_base_.toy_label_dataloader}})
_base_ = ['./toy_source_to_target.py']
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    # Rebuilt every round anyway; persistent workers would only outlive their round.
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _base_.toy_target_train_dataset,
        _delete_=True,
        pipeline=[
            dict(type='CheckedLoadImageFromFile'),
            dict(type='LoadPseudoLabels'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputsWithWeights'),
        ]))
toy_label_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(_base_.train_dataloader.dataset, data_root='data/toy/target',
                 pipeline=_base_.toy_test_pipeline))
