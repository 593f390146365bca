# As diga-warmup_deeplabv2-proda_r101_1xb3-80k_gta5-to-cityscapes-512x896.py with the public
# code's mix of low-resolution (1280x720) and full-resolution (1914x1052) GTA5 images (each
# rescaled by U(0.7, 1) before the 512x896 crop; full-res with probability 2/3).
_base_ = ['./diga-warmup_deeplabv2-proda_r101_1xb3-80k_gta5-to-cityscapes-512x896.py']
train_dataloader = dict(dataset=dict(source=dict(pipeline=_base_.diga_gta5_mixed_res_pipeline)))
