# AdvEnt's schedule (Vu et al., CVPR 2019, Sec. 4.1), also AdaptSegNet's: segmenter SGD lr 2.5e-4,
# momentum 0.9, wd 5e-4; discriminators Adam lr 1e-4, betas (0.9, 0.99); poly 0.9 towards 250k
# planned iterations, of which the paper trains 120k (early stopping).
_base_ = ['./sgd_poly_iter.py']
max_iters = 120000
poly_end = 250000
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    student=dict(type='OptimWrapper',
                 optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=0.0005)),
    discriminator=dict(type='OptimWrapper', module='aux',
                       optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=poly_end, by_epoch=False)],
    discriminator=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=poly_end,
                        by_epoch=False)])
train_cfg = dict(max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
