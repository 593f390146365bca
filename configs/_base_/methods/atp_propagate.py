# ATP step P, information Propagation (arXiv:2106.11653; the public code's atp_semi,
# configs/atp/README.md), source-free: EntropySplitLoop ranks the target train set with the Teach
# model (load_from) by mean normalised prediction entropy and calls the lowest lambda = 0.3 easy;
# then an EMA teacher (alpha 0.999) labels easy images (all argmax, weight 1) and hard images
# (argmax, scalar weight = fraction of pixels with confidence >= 0.968); the student trains on
# the strongly augmented easy images, on ClassMix easy -> hard (easy weight 1, hard weight the
# confident fraction) and, from step `contrast_begin` (the public code: 1500) on, with a
# pixel-to-prototype contrast on the hard images in a projection head (two convs, 512 channels)
# whose class prototypes (running mean and diagonal covariance) come from the easy images.
# A benchmark config sets the student, the head's input channels and the class count:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                aux=dict(proj_head=dict(_base_.method_model.aux.proj_head, in_channels=<C_in>),
#                         prototypes=dict(_base_.method_model.aux.prototypes, num_classes=<K>)))
#   default_hooks = _base_.method_hooks
method_model = dict(
    type='ATPPropagateSegmentor',
    setting='sfda',
    teacher=True,
    teacher_mode='train',
    pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='dacs'),
    easy_labeler=dict(type='ThresholdLabeler', weight_mode='none'),
    easy_loss=dict(type='PseudoLabelCELoss', loss_name='loss_ce'),
    mixer=dict(type='ClassMix'),
    strong_augment=dict(type='StrongAugment'),
    target_losses=[dict(type='PseudoLabelCELoss', loss_name='loss_ce')],
    contrast_loss=dict(type='PrototypeContrastLoss', temperature=0.1, reg_weight=1.0,
                       loss_weight=1.0),
    contrast_begin=1500,
    aux=dict(
        proj_head=dict(type='ProjectionHead', in_channels=2048, channels=512, num_convs=2),
        prototypes=dict(type='PrototypeEstimator', num_classes=19, channels=512,
                        memory_length=0)))
# The teacher starts as the Teach model and stays anchored to it: alpha = 0.999 from the first
# step, without DAFormer's 1 - 1/(t+1) warm-up (which the public code keeps), since that warm-up,
# made for a teacher that starts untrained, makes the teacher the plain mean of the student's
# iterates, so P's labels follow its drift away from T within the first iterations [U].
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999, ramp=False),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
# The projection head learns from step `contrast_begin` only: before it, DDP must allow unused
# parameters.
method_model_wrapper_cfg = dict(type='AdaptationDistributedDataParallel',
                                find_unused_parameters=True)
