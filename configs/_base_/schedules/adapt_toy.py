# Adaptation schedule on the toy benchmark: 300 SGD iterations from a trained source model
# (pass it with --cfg-options load_from=work_dirs/.../iter_800.pth).
_base_ = ['./toy.py']
max_iters = 300
val_interval = 150
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
