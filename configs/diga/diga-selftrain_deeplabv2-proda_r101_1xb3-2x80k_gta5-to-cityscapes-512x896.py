# DiGA self-training on GTA5 -> Cityscapes (arXiv:2304.02222; configs/diga/README.md), from the
# warm-up (load_from: student and teacher): two rounds of 80k iterations (round 2 relabels with the
# round-1 model: the refined self-training), offline labels of the student at full + half
# resolution fused by max, prototypes from 5 passes over the target train images, dynamic
# prototype-consensus selection, source CE + 0.25 KD (beta 0.3) + CE on the ClassMix of source
# classes onto 0.3 Aug(x_t) + 0.7 x_t. Validated every 1000 iterations (best-mIoU checkpoint kept:
# DiGA's oracle selection, reported beside the last).
_base_ = [
    '../_base_/methods/diga_selftrain_deeplabv2-proda_r101.py',
    '../_base_/datasets/diga_gta5_to_cityscapes_512x896.py'
]
train_dataloader = dict(
    persistent_workers=False,  # rebuilt every round
    dataset=dict(target=_base_.diga_cityscapes_selftrain_dataset))
train_cfg = dict(label_dataloader=_base_.diga_cityscapes_full_res_dataloader)
# `_delete_`: the base's prototype_init.dataloader is None, not a dict to merge into.
default_hooks = dict(prototype_init=dict(
    dataloader=dict(_base_.diga_cityscapes_full_res_dataloader, _delete_=True)))
