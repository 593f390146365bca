# HRDA (Hoyer et al., ECCV 2022, arXiv:2204.13132), UDA: DAFormer's self-training step
# (./daformer.py: EMA teacher, DACS pseudo-weight, ClassMix, strong augmentation, thing-class
# ImageNet feature distance) with the multi-resolution student of ../models/hrda_*.py
# (HRDAEncoderDecoder + HRDAHead). Everything HRDA changes lives in the student, which the
# adaptation segmentor drives through its AdaptationStudent methods:
# - source and mixed-target losses: fused prediction x 0.9 + detail crop x 0.1 (target losses
#   get the pseudo-labels cropped to the detail region: `tgt.detail.loss_pl_ce`);
# - pseudo-labels: the teacher's context + overlapping sliding detail inference of the whole crop;
# - feature distance: on the context (scale 0.5) features, the ImageNet copy sees the same
#   downscaled image (HRDA's feature_scale=0.5).
# The pseudo-label margins are a loader transform (PseudoLabelMargins, see
# ../datasets/cityscapes_1024x1024_hr_target.py). Use:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
#   default_hooks = _base_.method_hooks
_base_ = ['./daformer.py']
