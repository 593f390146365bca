# MIC on DAFormer (../_base_/methods/mic.py) on the toy benchmark, as the toy DAFormer config
# (../daformer/daformer_mit-tiny_*_toy-*.py) plus masked image consistency; 16x16 patches, as
# 64x64 on 512x512 crops scaled to the toy's 128x256.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/daformer_mit-tiny.py', '../_base_/methods/mic.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             masking=dict(_base_.method_model.masking, patch_size=16))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
