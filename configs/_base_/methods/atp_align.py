# ATP step A, Align (Wang, Liang, Zhang, arXiv:2106.11653, Sec. 3; configs/atp/README.md),
# source-free: curriculum-style entropy minimisation through the frozen source classifier. The
# student starts from the source model (load_from); the classifier named by `frozen_classifier`
# never trains (DeepLabV2: the whole ASPP head is the classifier; DAFormer: 'decode_head.conv_seg'),
# the feature extractor adapts. CurriculumEntropyLoss trains on the easiest rho(t) of the pixels
# (normalised entropy), rho growing linearly from rho_0 = 0.2 to 1 over `rho_iters` (set it to the
# stage's iterations). Every value here is a reconstruction [U] (the paper's are not public).
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model,
#                target_losses=[dict(_base_.method_model.target_losses[0], rho_iters=<iters>)])
method_model = dict(
    type='FrozenClassifierSegmentor',
    setting='sfda',
    frozen_classifier='decode_head',
    target_losses=[dict(type='CurriculumEntropyLoss', rho_0=0.2, rho_iters=1000,
                        schedule='linear', select='batch', eta=None, div_weight=0.0)])
