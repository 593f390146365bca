# CPU-sized HRDA network for the toy benchmark: the toy MiT + DAFormerHead
# (./daformer_mit-tiny.py) run at two resolutions as HRDA (./hrda_mitb5.py). The context view is
# the whole 128x256 toy image at scale 0.5 (64x128); the detail view a random 64x128 crop at full
# resolution (half the context crop's side, as 512 of 1024 in HRDA), corners multiples of 8; the
# scale attention is a DAFormer decoder with the toy's 64-d embeddings and a 1x1 fusion. Detail
# loss weight 0.1. Inference and pseudo-labels: context of the whole image + overlapping 64x128
# sliding detail windows (stride 32x64), whole-image test.
_base_ = ['./daformer_mit-tiny.py']
model = dict(
    type='HRDAEncoderDecoder',
    context_scale=0.5,
    detail_crop_size=(64, 128),
    crop_coord_divisible=8,
    detail_slide_overlapping=True,
    decode_head=dict(
        _delete_=True,
        type='HRDAHead',
        head=_base_.model.decode_head,
        attention_classwise=True,
        attention_embed_dims=64,
        detail_loss_weight=0.1,
        context_loss_weight=0.0),
    test_cfg=dict(mode='whole'))
