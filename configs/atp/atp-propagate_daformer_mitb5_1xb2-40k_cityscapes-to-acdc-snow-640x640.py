# ATP propagate on Cityscapes -> ACDC snow: the all-conditions config on ACDC snow only
# (its train images ranked for the easy/hard split; its val images for evaluation).
_base_ = ['./atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py']
train_dataloader = dict(dataset=dict(dataset=dict(conditions=('snow', ))))
train_cfg = dict(rank_dataloader=dict(dataset=dict(conditions=('snow', ))))
val_dataloader = dict(dataset=dict(conditions=('snow', )))
test_dataloader = dict(dataset=dict(conditions=('snow', )))
