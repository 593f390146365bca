# ATP step P, information Propagation (./atp_propagate.py) on DAFormer with MiT-B5
# (../models/daformer_mitb5.py): 640x640 crops, the projection head on the resize-concat of the
# four MiT stages (64 + 128 + 320 + 512 channels -> 512), 19 class prototypes. Without the data,
# runtime and schedule: a config lists after this file a ../datasets/*_640x640_target_atp.py,
# ../default_runtime.py and ../schedules/adamw_warmup_poly_40k.py, and sets the hooks, the DDP
# wrapper, the easy/hard pairs and EntropySplitLoop (see atp-propagate_daformer_mitb5_*.py).
_base_ = ['../models/daformer_mitb5.py', './atp_propagate.py']
model = dict(
    _base_.method_model, _delete_=True,
    student=dict(_base_.model, data_preprocessor=dict(_base_.model.data_preprocessor,
                                                      size=(640, 640))),
    aux=dict(proj_head=dict(_base_.method_model.aux.proj_head, in_channels=[64, 128, 320, 512],
                            in_index=[0, 1, 2, 3], input_transform='resize_concat'),
             prototypes=dict(_base_.method_model.aux.prototypes, num_classes=19)))
