# DiGA warm-up (../_base_/methods/diga_warmup.py) on the toy benchmark: symmetric distillation
# with the cross-domain mixture, the translated view from FDATranslatedView (a random target
# image's low-frequency amplitude; beta 0.05: a 6-pixel window on 128x256 images). Trained from
# scratch on (source, target) pairs for 300 iterations (the source-only baseline's schedule);
# target images are only the FDA style. Toy changes: EMA alpha 0.99 (0.999 would average the
# from-scratch iterates of most of the run), lr 0.02 as the toy source model.
#   python tools/train.py configs/diga/diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-target-128x256.py
_base_ = [
    '../_base_/models/deeplabv2-proda_r18-tiny.py', '../_base_/methods/diga_warmup.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/toy.py'
]
max_iters = 300
val_interval = 100
model = dict(
    _base_.method_model,
    _delete_=True,
    student=_base_.model,
    mixture=dict(_base_.method_model.mixture,
                 translator=dict(type='FDATranslatedView', fda=dict(type='FDA', beta=0.05))))
# DiGA samples source images uniformly (no rare class sampling).
train_dataloader = dict(dataset=dict(rare_class_sampling=None))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=val_interval),
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
