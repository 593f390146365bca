# UPLR stage 1 (../_base_/methods/uplr_s1_deeplabv2_r101.py: AdvEnt + FDA + soft-balance sampling
# + TGAA) on GTA5 -> Cityscapes. The sampler reads data/gta/sample_class_stats.json (written by
# tools/dataset_converters/gta.py). --cfg-options load_from=<GTA5 source checkpoint>
_base_ = ['../_base_/methods/uplr_s1_deeplabv2_r101.py',
          '../_base_/datasets/gta5_to_cityscapes_512x512.py']
train_dataloader = dict(batch_size=1, sampler=dict(_base_.soft_balance_sampler, _delete_=True))
