# AdaBN (../_base_/methods/adabn.py) on GTA5 -> Cityscapes: the source model's BatchNorm statistics
# replaced by statistics of Cityscapes train (one pass, exact pooled mean/var), evaluated on
# Cityscapes val.
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
#   -> work_dir/iter_0.pth
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/cityscapes_512x512_target_adapt.py',
    '../_base_/default_runtime.py', '../_base_/methods/adabn.py'
]
