# DiGA's domain-generalisation warm-up from GTA5 (no translator, no target data: the second view
# is 0.4 Aug(x_s) + 0.6 x_s), evaluated on unseen Cityscapes val. For BDD100K or Mapillary val,
# replace val_dataloader.dataset (see configs/diga/README.md).
_base_ = ['./diga-warmup_deeplabv2-proda_r101_1xb3-80k_gta5-to-cityscapes-512x896.py']
model = dict(mixture=dict(translator=None))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.diga_gta5_dataset))
