# MIC (Hoyer et al., CVPR 2023, arXiv:2212.01322) on HRDA with MiT-B5 (./hrda_mitb5.py): the
# student also learns from the strongly augmented target crop with 64x64 patches dropped at ratio
# 0.7, with the same pseudo-labels and weights as the mixed image, loss weight 1; the masked image
# goes through the multi-resolution student like the mixed one (fused x 0.9 + detail x 0.1:
# `tgt.masked.loss_pl_ce`, `tgt.masked.detail.loss_pl_ce`). Without the data.
_base_ = ['./hrda_mitb5.py']
model = dict(type='MICSegmentor', masking=dict(type='PatchMasking', patch_size=64, mask_ratio=0.7),
             mask_loss_weight=1.0)
