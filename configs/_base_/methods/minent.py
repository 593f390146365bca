# MinEnt (Vu et al., CVPR 2019, arXiv:1811.12833, Sec. 3.1), UDA: the supervised source loss plus
# the mean entropy of the target predictions, weight lambda_ent 0.001. No teacher, no
# pseudo-labels: one optimiser (SGD as ./advent.py's segmenter).
method_model = dict(
    type='SelfTrainingSegmentor',
    setting='uda',
    target_losses=[dict(type='EntropyLoss', loss_weight=0.001)])
