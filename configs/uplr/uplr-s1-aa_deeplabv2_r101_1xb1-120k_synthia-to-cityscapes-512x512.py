# UPLR stage 1 (../_base_/methods/uplr_s1_deeplabv2_r101.py) on SYNTHIA -> Cityscapes (19-way head
# as AdvEnt's configs; mIoU19 / mIoU16 / mIoU13 reported). The sampler reads
# data/synthia/sample_class_stats.json (tools/dataset_converters/synthia.py).
# --cfg-options load_from=<SYNTHIA source checkpoint>
_base_ = ['../_base_/methods/uplr_s1_deeplabv2_r101.py',
          '../_base_/datasets/synthia_to_cityscapes_512x512.py']
train_dataloader = dict(batch_size=1, sampler=dict(_base_.soft_balance_sampler, _delete_=True))
