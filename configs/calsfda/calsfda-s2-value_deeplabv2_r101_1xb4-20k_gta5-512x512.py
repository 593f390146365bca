# Cal-SFDA stage 2 on GTA5 (../_base_/methods/calsfda_s2_deeplabv2_r101.py), from the stage-1 pick:
#   --cfg-options load_from=<stage-1 checkpoint>
_base_ = [
    '../_base_/methods/calsfda_s2_deeplabv2_r101.py', '../_base_/datasets/gta5_split_512x512.py'
]
model = dict(decode_head=dict(num_classes=19), value_head=dict(num_classes=19))
train_dataloader = dict(batch_size=4)
val_evaluator = [*_base_.val_evaluator, dict(type='EstimatedECEMetric')]
test_evaluator = val_evaluator
