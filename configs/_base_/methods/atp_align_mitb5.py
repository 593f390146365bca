# ATP step A, Align (./atp_align.py) on DAFormer with MiT-B5 (../models/daformer_mitb5.py) in the
# public code's setting: 640x640 crops, DAFormer's classifier (its last 1x1 conv,
# decode_head.conv_seg) frozen, rho 0.2 -> 1 over 40k iterations. Without the data, runtime and
# schedule: a config lists after this file a ../datasets/*_640x640_target_atp.py,
# ../default_runtime.py and ../schedules/adamw_warmup_poly_40k.py (in that order: the data ahead of
# the runtime, as every ATP config).
_base_ = ['../models/daformer_mitb5.py', './atp_align.py']
model = dict(
    _base_.method_model, _delete_=True, frozen_classifier='decode_head.conv_seg',
    student=dict(_base_.model, data_preprocessor=dict(_base_.model.data_preprocessor,
                                                      size=(640, 640))),
    target_losses=[dict(type='CurriculumEntropyLoss', rho_0=0.2, rho_iters=40000)])
