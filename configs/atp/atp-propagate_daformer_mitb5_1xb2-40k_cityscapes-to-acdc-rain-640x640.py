# ATP propagate on Cityscapes -> ACDC rain: the all-conditions config on ACDC rain only
# (its train images ranked for the easy/hard split; its val images for evaluation).
_base_ = ['./atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py']
train_dataloader = dict(dataset=dict(dataset=dict(conditions=('rain', ))))
train_cfg = dict(rank_dataloader=dict(dataset=dict(conditions=('rain', ))))
val_dataloader = dict(dataset=dict(conditions=('rain', )))
test_dataloader = dict(dataset=dict(conditions=('rain', )))
