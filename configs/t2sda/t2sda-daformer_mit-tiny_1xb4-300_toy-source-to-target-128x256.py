# T2S-DA (../_base_/methods/t2sda.py) on the toy DAFormer config: the CPU-sized MiT network, 300
# iterations from the toy source model (load_from), EMA alpha 0.99 and SGD lr 0.01 as the toy DAFormer
# config; the key projection head's EMA follows the teacher's (0.99), and the projection head is
# 64 -> 64 -> 32 for the 64-channel toy decoder.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/daformer_mit-tiny.py', '../_base_/methods/t2sda.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model, key_momentum=0.99,
             projection=dict(_base_.method_model.projection, hidden_channels=64, out_channels=32))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
