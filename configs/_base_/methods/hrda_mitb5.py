# HRDA (./hrda.py) with MiT-B5 (../models/hrda_mitb5.py) and DAFormer's schedule
# (../schedules/adamw_warmup_poly_40k.py: AdamW 6e-5, decode head (decoder and scale attention)
# x10, no weight decay on norm and pos_block, 1500-iteration warm-up, poly(1.0) to 40k), without
# the data: a config adds ../datasets/*_to_cityscapes_1024x1024_hr.py (1024x1024 crops of the
# 2x-size images, pseudo-label margins cropped in the loader), batch 2 and rare class sampling
# with min_crop_ratio 2.0. No pseudo-label rows are cut per crop (DAFormer's ignore_top/bottom):
# the loader's margins replace them, as in HRDA.
_base_ = [
    '../models/hrda_mitb5.py', './hrda.py', '../default_runtime.py',
    '../schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
default_hooks = _base_.method_hooks
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'student.decode_head': dict(lr_mult=10.),
    'pos_block': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)}))
