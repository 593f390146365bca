# T2S-DA for domain generalisation (arXiv:2305.13752; the DG form is a reconstruction): no target
# data. A plain source dataset; the supervised loss is taken on a stylised view of each source image
# and the view's features are pulled to the EMA teacher's clean-source prototypes with source
# negatives only. The paper's view is a learned random style transfer (StyleAugmentor, selected by
# the t2sda-dg-style-augmentor-* configs; its weights are not shipped); this base keeps the
# weight-free photometric stand-in StrongAugment (colour jitter + blur,
# style_from=None); FDA with another source image's amplitude is the other stand-in
# (pseudo_target=dict(type='FDA', beta=0.01), style_from='source'). DAFormer's feature distance is
# kept; no pseudo-labels, mixing or target losses.
_base_ = ['./t2sda.py']
method_model = dict(
    type='T2SDGSegmentor',
    pseudo_labeler=None,
    mixer=None,
    strong_augment=None,
    target_losses=[],
    pseudo_target=dict(_delete_=True, type='StrongAugment'),
    style_from=None,
    target_queries=False,
    t2s_loss=dict(negative_domains='source'))
method_hooks = dict(_delete_=True, mean_teacher=dict(type='MeanTeacherHook', momentum=0.999))
