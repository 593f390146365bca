# GTA5 -> Cityscapes UDA pairs at HRDA's full resolution (1024x1024 crops of the 2x-size images,
# pseudo-label margins from the loader), Cityscapes val/test at 2048x1024.
_base_ = ['./gta5_1024x1024_hr.py', './cityscapes_1024x1024_hr_target.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source={{_base_.gta5_train_dataset}},
        target={{_base_.cityscapes_train_dataset}}))
