# DiGA self-training (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.3; configs/diga/README.md),
# from the warm-up checkpoint (student and teacher), in rounds run by SelfTrainingLoop:
# - before each round the whole target train set is labelled by the student: argmax of every pixel
#   (ThresholdLabeler weight_mode='none', no threshold) with multi-scale (1.0, 0.5) max fusion
#   (the loop's label_tta); round 2 relabels with the round-1 model (DiGA's refined stage);
# - prototypes (aux.prototypes, ClassPrototypes) initialised from the student's target features
#   by PrototypeInitHook (kept from the checkpoint on resume) and updated by EMA (m = 1e-4) from
#   target teacher features (selected label = teacher argmax) and mixed source views (ground truth
#   = teacher argmax);
# - every iteration: offline label kept where the teacher's nearest prototype agrees
#   (PrototypeConsensusSelector, no threshold); source CE + 0.25 KD on [x_s; x_mix] (beta 0.3);
#   CE (ignore 255, mean over labelled pixels) on 0.3 Aug(x_t) + 0.7 x_t with floor(n/2) source
#   classes (+ 255) pasted on it.
# A benchmark config sets the student, the prototypes' num_classes / feat_dim, the train
# dataloader (source + target with LoadPseudoLabels), the loop's label dataloader and the
# prototype-init dataloader.
method_model = dict(
    type='DiGASegmentor',
    stage='selftrain',
    setting='uda',
    teacher=True,
    teacher_mode='eval',
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='ThresholdLabeler', weight_mode='none'),
    selector=dict(type='PrototypeConsensusSelector'),
    mixture=dict(
        type='CrossDomainMixture',
        beta=0.3,
        augment=dict(type='PhotometricAugment', jitter_p=0.5, grayscale_p=0.3),
        translator=dict(type='FDATranslatedView', fda=dict(type='FDA', beta=0.01))),
    distill_loss=dict(type='SymmetricKDLoss', weights=(1.0, 0.5), loss_weight=0.25),
    mixer=dict(type='ClassMix', include_ignore=True, half='floor', always_paste_ignore=True),
    target_losses=[dict(type='PseudoLabelCELoss', avg='weights', loss_name='loss_mix_ce')],
    aux=dict(prototypes=dict(type='ClassPrototypes', num_classes=19, feat_dim=256,
                             momentum=1e-4, min_pixels=5, max_count=3000)))
method_hooks = dict(
    mean_teacher=dict(type='MeanTeacherHook', momentum=0.999, skip_buffers=False),
    prototype_init=dict(type='PrototypeInitHook', dataloader=None, passes=5),
    pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
# Multi-scale max fusion of the offline labels (DiGA's pseudolabel_generator).
label_tta = dict(scales=(1.0, 0.5), fusion='max')
