# GTA5 -> Cityscapes UDA pairs (DomainPairDataset, no rare class sampling), Cityscapes val/test.
_base_ = ['./gta5_512x512.py', './cityscapes_512x512_target.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source={{_base_.gta5_train_dataset}},
        target={{_base_.cityscapes_train_dataset}}))
