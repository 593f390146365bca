# T2S-DA's domain-generalisation form (../_base_/methods/t2sda_dg.py) on the toy benchmark: 300
# iterations on toy source train only (photometric stand-in views), from the toy source model
# (load_from), evaluated on the unseen toy target val. Network, EMA alpha 0.99, key-head momentum
# 0.99, SGD lr 0.01 and the 64 -> 64 -> 32 projection head as the toy T2S-DA config.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/daformer_mit-tiny.py', '../_base_/methods/t2sda_dg.py',
    '../_base_/datasets/toy_source_to_target.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model, key_momentum=0.99,
             projection=dict(_base_.method_model.projection, hidden_channels=64, out_channels=32))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
optim_wrapper = dict(optimizer=dict(lr=0.01))
