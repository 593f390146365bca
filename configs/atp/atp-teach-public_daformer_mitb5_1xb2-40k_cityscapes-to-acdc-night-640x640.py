# ATP teach-public on Cityscapes -> ACDC night: the all-conditions config on ACDC night only
# (its train images; its val images for evaluation).
_base_ = ['./atp-teach-public_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py']
train_dataloader = dict(dataset=dict(conditions=('night', )))
val_dataloader = dict(dataset=dict(conditions=('night', )))
test_dataloader = dict(dataset=dict(conditions=('night', )))
