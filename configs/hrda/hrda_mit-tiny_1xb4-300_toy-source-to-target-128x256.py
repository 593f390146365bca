# HRDA (../_base_/methods/hrda.py) on the toy benchmark with the CPU-sized MiT network at two
# resolutions (../_base_/models/hrda_mit-tiny.py: context = the whole 128x256 image at scale 0.5,
# detail = a random 64x128 crop at full resolution, detail loss weight 0.1, sliding-window
# pseudo-labels): 300 iterations from the toy MiT source model (load_from, a single-scale
# checkpoint: it fills the decoder; the scale attention starts from its initialisation), as the
# toy DAFormer config otherwise (EMA alpha 0.99, SGD lr 0.01; the source backbone is the
# feature-distance reference). No pseudo-label margins (the toy frames have no border artefacts).
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/hrda_mit-tiny.py', '../_base_/methods/hrda.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
