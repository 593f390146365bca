# DAFormer's schedule (Hoyer et al., CVPR 2022, arXiv:2111.14887): AdamW lr 6e-5, betas
# (0.9, 0.999), weight decay 0.01, the decode head of the student at 10x the lr; linear warm-up
# over 1500 iterations, then poly(1.0) to 40k iterations; validation and checkpoints every 4000.
_base_ = ['./sgd_poly_iter.py']
max_iters = 40000
warmup_iters = 1500
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'student.decode_head': dict(lr_mult=10.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters)
]
