# SYNTHIA -> Cityscapes UDA pairs (DomainPairDataset, no rare class sampling) with a 19-way head
# (the DAFormer convention: terrain, truck and train never occur in SYNTHIA), Cityscapes val/test
# reporting mIoU19 / mIoU16 / mIoU13.
_base_ = ['./synthia_512x512.py', './cityscapes_512x512_target_synthia19.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source={{_base_.synthia_train_dataset}},
        target={{_base_.cityscapes_train_dataset}}))
