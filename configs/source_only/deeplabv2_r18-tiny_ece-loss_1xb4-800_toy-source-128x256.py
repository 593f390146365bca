# Source training with the differentiable (LogSumExp) class-level ECE loss added to cross-entropy
# (Cal-SFDA stage 1, arXiv:2308.03003: L = CE + alpha * ClassECE, alpha = 1, 10 bins, t = 1e-5).
_base_ = ['./deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py']
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(type='DifferentiableECELoss', n_bins=10, lse_t=1e-5, class_level=True, average='all',
             loss_weight=1.0),
    ]))
