# ATP's black-box setting (arXiv:2106.11653; configs/atp/README.md), stage 0: only the source
# model's predictions on the target train images are available (a directory written by
# tools/atp_black_box_predictions.py); a fresh target model (ImageNet init where the network has
# one; the toy net starts from scratch) is distilled from those files alone, then A -> T -> P run
# on it. Two forms [U]:
# - soft (default): KL to the source probabilities (SoftTargetKLLoss; files of format 'probs');
# - hard: cross-entropy on the source argmax where its confidence >= `min_confidence` (a 'labels'
#   directory has no confidences: every pixel), i.e. target_losses=[dict(type='PseudoLabelCELoss',
#   avg='weights')] and LoadSourcePredictions(min_confidence=0.9).
# The model never loads the source weights: load_from stays None (tested).
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='sfda',
    pseudo_labels_from='dataset',
    target_losses=[dict(type='SoftTargetKLLoss')])
