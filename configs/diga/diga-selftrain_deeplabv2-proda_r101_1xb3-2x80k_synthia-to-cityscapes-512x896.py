# DiGA self-training on SYNTHIA -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): as the
# GTA5 config with SYNTHIA's OHEM CE (threshold 0.7, min kept 100k) on the source and mixed images,
# its photometric settings (jitter p 0.7, grayscale p 0.1), lambda_KD 0.25.
_base_ = [
    '../_base_/methods/diga_selftrain_deeplabv2-proda_r101.py',
    '../_base_/datasets/diga_synthia_to_cityscapes_512x896.py'
]
model = dict(
    student=dict(decode_head=dict(
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000))),
    mixture=dict(augment=dict(jitter_p=0.7, grayscale_p=0.1)))
train_dataloader = dict(
    persistent_workers=False,  # rebuilt every round
    dataset=dict(target=_base_.diga_cityscapes_selftrain_dataset))
train_cfg = dict(label_dataloader=_base_.diga_cityscapes_full_res_dataloader)
# `_delete_`: the base's prototype_init.dataloader is None, not a dict to merge into.
default_hooks = dict(prototype_init=dict(
    dataloader=dict(_base_.diga_cityscapes_full_res_dataloader, _delete_=True)))
