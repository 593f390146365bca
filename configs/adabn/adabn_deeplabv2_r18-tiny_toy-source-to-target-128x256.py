# AdaBN (../_base_/methods/adabn.py) on the toy benchmark: target BN statistics from one pass over
# target train, evaluated on target val.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>  -> work_dir/iter_0.pth
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/methods/adabn.py'
]
randomness = dict(seed=0)
