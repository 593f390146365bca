# Adversarial adaptation (AdvEnt, AdaptSegNet) on the toy benchmark: 300 iterations from the source
# model, two optimisers: the segmenter's SGD at the toy adaptation lr (0.002, as the other toy
# baselines) and the discriminators' Adam at the papers' 1e-4, betas (0.9, 0.99); poly 0.9 on both.
_base_ = ['./adapt_toy.py']
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    student=dict(type='OptimWrapper',
                 optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0005)),
    discriminator=dict(type='OptimWrapper', module='aux',
                       optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=300, by_epoch=False)],
    discriminator=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=300, by_epoch=False)])
