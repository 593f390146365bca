# T2S-DA (Wang et al., IJCV 2024, arXiv:2305.13752), UDA, on DAFormer (./daformer.py): pseudo-target
# views of the source (FDA with the target batch's amplitude, beta 0.01) carry the source loss; their
# decoder features, through a 2-layer projection head, are pulled to the EMA teacher's source class
# prototypes (T2SContrastiveLoss: InfoNCE, tau 0.1, 256 class-balanced queries per class, 256 source +
# 256 target negatives of other classes), reliable target pixels of the mixed image are extra queries,
# and classes are re-weighted by a running source IoU; lambda_T2S 0.1. Every [U] value is named in
# configs/t2sda/README.md. Use:
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
#   default_hooks = _base_.method_hooks
_base_ = ['./daformer.py']
method_model = dict(
    type='T2SDASegmentor',
    t2s_loss=dict(type='T2SContrastiveLoss', tau=0.1, num_queries=256, num_negatives=512,
                  query_sampling='class_balanced', negative_domains='both', loss_weight=0.1),
    projection=dict(type='PixelProjectionHead', hidden_channels=256, out_channels=128),
    memory=dict(prototype_momentum=0.99, queue_size=0, queue_push=64),
    reweighting=dict(momentum=0.99, gamma=1.0),
    reweight_score='source_iou',
    pseudo_target=dict(type='FDA', beta=0.01),
    style_from='target',
    key_momentum=0.999,
    reliable_threshold=0.968,
    target_queries=True,
    target_query_weight=1.0)
