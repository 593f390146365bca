# ATP align on Cityscapes -> ACDC rain: the all-conditions config on ACDC rain only
# (its train images; its val images for evaluation).
_base_ = ['./atp-align_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py']
train_dataloader = dict(dataset=dict(conditions=('rain', )))
val_dataloader = dict(dataset=dict(conditions=('rain', )))
test_dataloader = dict(dataset=dict(conditions=('rain', )))
