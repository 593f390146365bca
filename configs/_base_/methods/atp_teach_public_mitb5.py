# ATP step T in the public code's form (./atp_teach_public.py) on DAFormer with MiT-B5
# (../models/daformer_mitb5.py): 640x640 class-balanced crops taken inside the model, on the whole
# resized target image. Without the data, runtime and schedule: a config lists after this file a
# ../datasets/*_640x640_target_atp.py, ../default_runtime.py and
# ../schedules/adamw_warmup_poly_40k.py, trains on the dataset base's *_full_train_dataset and sets
# the data preprocessor's size to that resized image (h, w):
#   model = dict(student=dict(data_preprocessor=dict(size=(640, 1280))))
#   default_hooks = _base_.method_hooks
_base_ = ['../models/daformer_mitb5.py', './atp_teach_public.py']
model = dict(
    _base_.method_model, _delete_=True, student=_base_.model,
    crop=dict(_base_.method_model.crop, crop_size=(640, 640)))
