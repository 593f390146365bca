# T2S-DA (./t2sda.py) with MiT-B5 and DAFormer's schedule, as ./daformer_mitb5.py (AdamW 6e-5, head
# x10, 1500-iteration warm-up, poly to 40k; Cityscapes pseudo-label rows 0-14 and the last 120 get
# weight 0); the projection head trains at the decode head's 10x lr (a reconstruction). A config adds
# a dataset, batch 2 and rare class sampling.
_base_ = [
    '../models/daformer_mitb5.py', './t2sda.py', '../default_runtime.py',
    '../schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, ignore_top=15,
                                 ignore_bottom=120))
default_hooks = _base_.method_hooks
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'student.decode_head': dict(lr_mult=10.),
    'aux.projection': dict(lr_mult=10.),
    'pos_block': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)}))
