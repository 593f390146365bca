# CPU-sized DAFormer network for the toy benchmark: a MiT-B0 layout at half width (channels
# 16-32-80-128, two blocks per stage, no drop path) and a DAFormerHead with 64-channel embeddings
# and fusion, dilations scaled to the 32x64 first-level maps of 128x256 inputs. Trained from
# scratch (no ImageNet weights offline). The model's own preprocessor pads to the toy crop: the
# MiT-B5 base's 512x512 would pad every 128x256 toy batch to 8x its pixels.
_base_ = ['./daformer_mitb5.py']
model = dict(
    data_preprocessor=dict(size=(128, 256)),
    backbone=dict(
        embed_dims=16, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8], drop_path_rate=0.0,
        init_cfg=None),
    decode_head=dict(in_channels=[16, 32, 80, 128], channels=64, embed_dims=64,
                     dilations=(1, 2, 4, 6), num_classes=10))
data_preprocessor = dict(size=(128, 256))
