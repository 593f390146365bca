# MinEnt (../_base_/methods/minent.py) on the toy benchmark: 300 iterations from the source model.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/minent.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
