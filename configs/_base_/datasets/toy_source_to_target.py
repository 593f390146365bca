# Toy benchmark, source -> target: trained on source train (labelled), validated and tested on
# target val. `toy_target_train_dataset` (target train images, no labels) is there for adaptation
# configs to put into their train_dataloader (e.g. in a DomainPairDataset).
# Pipelines, batch sizes and evaluator as in toy_source.py.
# Generate the data first: python tools/make_toy_data.py --out data/toy
_base_ = ['./toy_source.py']
val_dataloader = dict(dataset=dict(data_root='data/toy/target'))
test_dataloader = dict(dataset=dict(data_root='data/toy/target'))
toy_target_train_dataset = dict(
    type='ToyCityDataset',
    data_root='data/toy/target',
    data_prefix=dict(img_path='images/train'),
    pipeline=[
        dict(type='CheckedLoadImageFromFile'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ])
