# Cal-SFDA stage 2 on SYNTHIA-16 (../_base_/methods/calsfda_s2_deeplabv2_r101.py), from the stage-1
# pick:  --cfg-options load_from=<stage-1 checkpoint>
_base_ = [
    '../_base_/methods/calsfda_s2_deeplabv2_r101.py',
    '../_base_/datasets/synthia16_split_512x512.py'
]
model = dict(decode_head=dict(num_classes=16), value_head=dict(num_classes=16))
train_dataloader = dict(batch_size=4)
val_evaluator = [*_base_.val_evaluator, dict(type='EstimatedECEMetric')]
test_evaluator = val_evaluator
