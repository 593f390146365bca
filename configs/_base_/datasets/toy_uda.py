# Toy benchmark, UDA: (source, target) pairs from DomainPairDataset; target val for val/test.
# Target train labels are loaded for pseudo-label statistics only (never trained on).
_base_ = ['./toy_source_to_target.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        # Source train as in toy_source.py; the same split of the target domain.
        source=_base_.train_dataloader.dataset,
        target=dict(_base_.train_dataloader.dataset, data_root='data/toy/target'),
        # DAFormer's RCS with min_pixels scaled from 3000 at 512x512 to the toy's 128x256 crops.
        rare_class_sampling=dict(temperature=0.01, min_pixels=375, min_crop_ratio=0.5)))
