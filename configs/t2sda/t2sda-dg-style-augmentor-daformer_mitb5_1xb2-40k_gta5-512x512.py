# T2S-DA's DG form on GTA5 (./t2sda-dg-daformer_mitb5_1xb2-40k_gta5-512x512.py) with the paper's
# view: Jackson et al.'s learned style augmentation (StyleAugmentor, alpha 0.5) instead of the
# photometric stand-in. Needs the three published weight files under pretrained/
# (docs/pretrained.md) besides mit_b5.pth.
_base_ = [
    './t2sda-dg-daformer_mitb5_1xb2-40k_gta5-512x512.py', '../_base_/models/style_augmentor.py'
]
model = dict(pseudo_target=dict(_base_.style_augmentor_view, _delete_=True))
