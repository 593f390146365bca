# MIC on DAFormer with MiT-B5 (./daformer_mitb5.py): masked image consistency, 64x64 patches,
# ratio 0.7, weight 1 (./mic.py), without the data.
_base_ = ['./daformer_mitb5.py']
model = dict(type='MICSegmentor', masking=dict(type='PatchMasking', patch_size=64, mask_ratio=0.7),
             mask_loss_weight=1.0)
