# T2S-DA (../_base_/methods/t2sda.py) on the toy HRDA network (../_base_/models/hrda_mit-tiny.py:
# context = the 128x256 image at scale 0.5, detail = a random 64x128 crop, sliding-window
# pseudo-labels): the contrastive loss embeds the context view's decoder feature. 300 iterations
# from the toy MiT source model (load_from), otherwise as the toy T2S-DA config (EMA alpha and
# key-head momentum 0.99, SGD lr 0.01, 64 -> 64 -> 32 projection head).
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/hrda_mit-tiny.py', '../_base_/methods/t2sda.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model, key_momentum=0.99,
             projection=dict(_base_.method_model.projection, hidden_channels=64, out_channels=32))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
