# FDA (Yang and Soatto, CVPR 2020, arXiv:2004.05498), UDA: the supervised loss on source images
# whose low-frequency Fourier amplitude is the target's (beta 0.01, as FDA's training command), and
# the Charbonnier entropy of the target predictions (normalised entropy, (H^2 + 1e-8)^eta with
# eta 2, weight 0.005). No teacher, no pseudo-labels, one optimiser (FDA: SGD 2.5e-4, poly 0.9).
# FDA-MBT trains three of these with beta 0.01 / 0.05 / 0.09 and averages their probabilities
# (EnsembleSegmentor, see configs/fda/README.md).
method_model = dict(
    type='FDASegmentor',
    setting='uda',
    style_transfer=dict(type='FDA', beta=0.01),
    target_losses=[dict(type='EntropyLoss', normalize=True, eta=2.0, loss_weight=0.005)])
