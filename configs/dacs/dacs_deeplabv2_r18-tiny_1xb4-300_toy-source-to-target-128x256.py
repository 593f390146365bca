# DACS (../_base_/methods/dacs.py) on the toy benchmark: 300 iterations from the source model on
# (source, target) pairs with rare class sampling of the source images, validated on target val.
# Differences from the method base for this short schedule: EMA alpha 0.99 (plain DACS; DAFormer's
# 0.999 would keep the teacher near the source model for most of 300 iterations), and ClassMix draws
# the classes of each source image from that image only.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/dacs.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             mixer=dict(_base_.method_model.mixer, batch_unique=False))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
