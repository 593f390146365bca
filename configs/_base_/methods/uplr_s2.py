# UPLR (ICCV 2021), stage 2 "ST" (UPST): self-training rounds on threshold-free pseudo-labels.
# Before each round SelfTrainingLoop labels every target train image with the current model
# (no teacher copy; eval mode): GMMLabeler fits, per class, a two-component Gaussian mixture to the
# pixel uncertainties (normalised entropy) of the pixels predicted as that class (one batched EM,
# streamed histogram statistics), recomputes I^c and S_k, and keeps the pixels of the low-mean
# ("certain") component. The round trains with cross-entropy on those labels, on target images
# only ([U]: the poster does not say whether source images stay in the batch).
# A config sets the labeler's num_classes and a SelfTrainingLoop train_cfg (see ./cbst.py).
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    pseudo_labels_from='dataset',
    pseudo_labeler=dict(type='GMMLabeler', top_k=5, bins=2048, min_pixels=50,
                        min_separation=1.0, upper_guard=True),
    target_losses=[dict(type='PseudoLabelCELoss', avg='weights')],
    teacher_mode='eval')
method_hooks = dict(pseudo_label_stats=dict(type='PseudoLabelStatsHook', interval=50))
