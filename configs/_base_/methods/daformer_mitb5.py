# DAFormer (./daformer.py) with MiT-B5 (../models/daformer_mitb5.py) and DAFormer's schedule
# (../schedules/adamw_warmup_poly_40k.py: AdamW 6e-5, head x10, no weight decay on norm and
# pos_block, 1500-iteration warm-up, poly(1.0) to 40k) for a Cityscapes target (pseudo-label
# rows 0-14 and the last 120 get weight 0), without the data: a config adds
# ../datasets/*_to_cityscapes_512x512.py, batch 2 and rare class sampling.
_base_ = [
    '../models/daformer_mitb5.py', './daformer.py', '../default_runtime.py',
    '../schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, ignore_top=15,
                                 ignore_bottom=120))
default_hooks = _base_.method_hooks
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'student.decode_head': dict(lr_mult=10.),
    'pos_block': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)}))
