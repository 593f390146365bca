# SHOT-IM (Liang et al., ICML 2020, arXiv:2002.08546), source-free: information maximisation on
# target batches (confident per-pixel predictions, diverse over the batch), with the classifier
# (the decode head) frozen as the source hypothesis; only the backbone adapts. Parameters the model
# config froze (e.g. norm_cfg.requires_grad=False) stay frozen. No teacher: the model holds the
# student only.
#
# How a benchmark config uses a method base: see ./tent.py.
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    trainable=[r'backbone\.'],
    target_losses=[dict(type='InformationMaximizationLoss', ent_weight=1.0, div_weight=1.0)])
