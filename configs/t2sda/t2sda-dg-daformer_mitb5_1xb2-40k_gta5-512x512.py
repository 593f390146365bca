# T2S-DA's domain-generalisation form (../_base_/methods/t2sda_dg.py: photometric stand-in views,
# source negatives only, no target data) with MiT-B5 and DAFormer's schedule, trained on GTA5 alone
# and evaluated on Cityscapes val (never trained on). The projection head trains at the decode
# head's 10x lr, as in ../_base_/methods/t2sda_mitb5.py.
_base_ = [
    '../_base_/models/daformer_mitb5.py', '../_base_/methods/t2sda_dg.py',
    '../_base_/datasets/gta5_512x512.py', '../_base_/datasets/cityscapes_512x512_target.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
default_hooks = _base_.method_hooks
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'student.decode_head': dict(lr_mult=10.),
    'aux.projection': dict(lr_mult=10.),
    'pos_block': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)}))
