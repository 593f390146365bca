# T2S-DA (./t2sda.py) on HRDA with MiT-B5 (../models/hrda_mitb5.py) and DAFormer's schedule, as
# ./hrda_mitb5.py (AdamW 6e-5, decode head x10, no decay on norm and pos_block, warm-up, poly to 40k;
# no pseudo-label rows cut: the loader's margins replace them). The contrastive loss embeds the
# context view's decoder feature; the projection head trains at the decode head's 10x lr. A config
# adds ../datasets/*_to_cityscapes_1024x1024_hr.py, batch 2 and rare class sampling.
_base_ = [
    '../models/hrda_mitb5.py', './t2sda.py', '../default_runtime.py',
    '../schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
default_hooks = _base_.method_hooks
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'student.decode_head': dict(lr_mult=10.),
    'aux.projection': dict(lr_mult=10.),
    'pos_block': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)}))
