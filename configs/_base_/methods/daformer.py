# DAFormer (Hoyer et al., CVPR 2022, arXiv:2111.14887), UDA: DACS self-training (./dacs.py: EMA
# teacher alpha 0.999 labelling in train mode, scalar pseudo-weight at 0.968, ClassMix with the
# batch-wide class set, colour jitter + blur) plus the thing-class ImageNet feature distance
# (lambda 0.005, majority-vote label downscaling >= 0.75) and rare class sampling (in the dataset
# config). Use:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
#   default_hooks = _base_.method_hooks
_base_ = ['./dacs.py']
method_model = dict(
    type='DAFormerSegmentor',
    feature_distance=dict(type='FeatureDistanceLoss', loss_weight=0.005, min_ratio=0.75))
