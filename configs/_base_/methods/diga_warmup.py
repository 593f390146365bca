# DiGA warm-up (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.2; configs/diga/README.md):
# source-only symmetric knowledge distillation with the cross-domain mixture.
# - Student and EMA teacher (MeanTeacherHook, alpha 0.999 with the 1 - 1/(t+1) ramp; the update
#   after step t is DiGA's update before step t+1) both see [x_s; x_mix].
# - x_mix: photometric view 0.4 Aug(x_s) + 0.6 x_s on the pixels of floor(n/2) source classes
#   (+ 255), the translated view elsewhere. Translated view: FDATranslatedView (a random target
#   image's Fourier amplitude; needs target images, no training) by default; a learned translator
#   instead in the paper; translator=None is the domain-generalisation variant (x_mix = x_aug, no
#   target data at all).
# - Loss: CE(S(x_s), y_s) (the decode head's loss: OHEM through decode_head.sampler for SYNTHIA)
#   + lambda_KD * KD, KD = 1.0 * CE(T(clean) -> S(mixed)) + 0.5 * CE(T(mixed) -> S(clean)).
#   lambda_KD: 0.5 (GTA5), 0.25 (SYNTHIA).
# - The teacher runs in eval mode and also averages the BN statistics (skip_buffers=False), so its
#   eval-mode BN follows the student's (a clean choice for trainable-BN students; frozen-BN R101
#   is unaffected).
# A benchmark config: model = dict(_base_.method_model, _delete_=True, student=_base_.model)
method_model = dict(
    type='DiGASegmentor',
    stage='warmup',
    setting='uda',
    teacher=True,
    teacher_mode='eval',
    mixture=dict(
        type='CrossDomainMixture',
        beta=0.4,
        augment=dict(type='PhotometricAugment', jitter_p=0.5, grayscale_p=0.3),
        translator=dict(type='FDATranslatedView', fda=dict(type='FDA', beta=0.01))),
    distill_loss=dict(type='SymmetricKDLoss', weights=(1.0, 0.5), loss_weight=0.5))
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999, skip_buffers=False))
