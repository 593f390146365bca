# MIC (Hoyer et al., CVPR 2023, arXiv:2212.01322) on DAFormer (./daformer.py): the student also
# learns from the strongly augmented target image with 64x64 patches dropped at ratio 0.7, with the
# same pseudo-labels and weights as the mixed image, loss weight 1.
_base_ = ['./daformer.py']
method_model = dict(
    type='MICSegmentor',
    masking=dict(type='PatchMasking', patch_size=64, mask_ratio=0.7),
    mask_loss_weight=1.0)
