# DAFormer (../_base_/methods/daformer.py) on the toy benchmark with the CPU-sized MiT network:
# 300 iterations from the toy source model (load_from), whose backbone is the feature-distance
# reference (no ImageNet weights offline); as the toy DACS config, EMA alpha 0.99 for the short
# schedule and SGD at the toy adaptation lr.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/daformer_mit-tiny.py', '../_base_/methods/daformer.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
