# HRDA's network (Hoyer et al., ECCV 2022, arXiv:2204.13132, Sec. 3): DAFormer's MiT-B5 +
# DAFormerHead (./daformer_mitb5.py) run at two resolutions by HRDAEncoderDecoder. Training on a
# 1024x1024 crop of the 2x-size images: the context view is the whole crop at scale 0.5, the detail
# view a random 512x512 crop at full resolution (corners multiples of 8); HRDAHead fuses them with
# a class-wise sigmoid scale attention (a DAFormer decoder with 256-d embeddings and a 1x1 fusion,
# on the context features); losses: fused x 0.9 + detail x 0.1 (lambda_d), no separate context
# loss. Inference: context of the whole window + detail by overlapping 512x512 sliding windows
# (stride 256), fused; the test_cfg slides 1024x1024 windows with stride 512 over 2048x1024
# Cityscapes frames (as HRDA's test config).
_base_ = ['./daformer_mitb5.py']
data_preprocessor = dict(size=(1024, 1024))
model = dict(
    type='HRDAEncoderDecoder',
    data_preprocessor=data_preprocessor,
    context_scale=0.5,
    detail_crop_size=(512, 512),
    crop_coord_divisible=8,
    detail_slide_overlapping=True,
    decode_head=dict(
        _delete_=True,
        type='HRDAHead',
        head=_base_.model.decode_head,
        attention_classwise=True,
        attention_embed_dims=256,
        detail_loss_weight=0.1,
        context_loss_weight=0.0),
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(512, 512)))
