# MIC on HRDA (../_base_/methods/mic.py with the multi-resolution student of
# ../_base_/models/hrda_mit-tiny.py) on the toy benchmark, as the toy HRDA config
# (../hrda/hrda_mit-tiny_*_toy-*.py) plus masked image consistency. 8x8 patches: MIC(HRDA) masks
# 64x64 patches of 1024x1024 crops of the 2x-size images, i.e. 1/16 of the crop side; the toy
# image stands for that crop (the MIC(DAFormer) toy's 16x16 stands for 64 of a 512 crop).
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/hrda_mit-tiny.py', '../_base_/methods/mic.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             masking=dict(_base_.method_model.masking, patch_size=8))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
