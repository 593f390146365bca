# DACS (./dacs.py) with DeepLabV2-ResNet-101 (frozen BN) and DAFormer's schedule
# (../schedules/adamw_warmup_poly_40k.py), for a Cityscapes target, without the data: pseudo-label
# rows 0-14 and the last 120 rows (Cityscapes' image border and ego car) get weight 0. A config adds
# a (source, Cityscapes) pair dataset (../datasets/*_to_cityscapes_512x512.py), its batch size and
# rare class sampling.
_base_ = [
    '../models/deeplabv2_r101_caffe.py', './dacs.py', '../default_runtime.py',
    '../schedules/adamw_warmup_poly_40k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, ignore_top=15,
                                 ignore_bottom=120))
default_hooks = _base_.method_hooks
