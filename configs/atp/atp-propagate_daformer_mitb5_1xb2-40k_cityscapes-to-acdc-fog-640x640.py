# ATP propagate on Cityscapes -> ACDC fog: the all-conditions config on ACDC fog only
# (its train images ranked for the easy/hard split; its val images for evaluation).
_base_ = ['./atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py']
train_dataloader = dict(dataset=dict(dataset=dict(conditions=('fog', ))))
train_cfg = dict(rank_dataloader=dict(dataset=dict(conditions=('fog', ))))
val_dataloader = dict(dataset=dict(conditions=('fog', )))
test_dataloader = dict(dataset=dict(conditions=('fog', )))
