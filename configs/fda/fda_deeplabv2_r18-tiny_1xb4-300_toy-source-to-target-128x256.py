# FDA (../_base_/methods/fda.py) on the toy benchmark: 300 iterations from the source model.
# beta stays the paper's 0.01 of the shorter side (a 1-pixel window on 128x256 images, as 5 pixels
# on 1024x512); FDA-MBT's 0.05 / 0.09 with --cfg-options model.style_transfer.beta=0.05.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/fda.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
