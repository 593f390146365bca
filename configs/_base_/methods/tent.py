# TENT (Wang et al., ICLR 2021, arXiv:2006.10726), source-free: minimise the entropy of the
# predictions on target batches, adapting only the affine parameters of the normalisation layers;
# BN normalises with target batch statistics in training (the network's norm_eval must be off).
# No teacher: the model holds the student only.
#
# A method base holds what the method is, apart from network, data and schedule (this file defines
# no key that a model, dataset, runtime or schedule base defines, so it is a sibling of them).
# `method_model` is the segmentor without its student; a benchmark config wraps its network in it:
#   _base_ = ['../_base_/models/<net>.py', '../_base_/methods/tent.py', <data>, <runtime>,
#             <schedule>]
#   model = dict(_base_.method_model, _delete_=True, student=_base_.model)
# `method_model` is read when the config is parsed: override `model.*` (e.g. with --cfg-options),
# never `method_model.*`, which is left in the parsed config only as a record.
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    trainable='norm',
    target_losses=[dict(type='EntropyLoss')])
