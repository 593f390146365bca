# SYNTHIA -> Cityscapes UDA pairs at HRDA's full resolution with a 19-way head (1024x1024 crops,
# pseudo-label margins from the loader), Cityscapes val/test at 2048x1024 reporting
# mIoU19 / mIoU16 / mIoU13.
_base_ = ['./synthia_1024x1024_hr.py', './cityscapes_1024x1024_hr_target_synthia19.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source={{_base_.synthia_train_dataset}},
        target={{_base_.cityscapes_train_dataset}}))
