# ATP black-box stage 0 (../_base_/methods/atp_distill.py) on the toy benchmark: a fresh
# r18-tiny DeepLabV2 (from scratch, as the toy source model) trained for 800 iterations (the source
# model's schedule) on target train images against the source model's float16 probabilities.
# Write the predictions first, then train with their directory:
#   python tools/atp_black_box_predictions.py \
#       configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py SOURCE.pth \
#       data/toy/target/images/train --out work_dirs/atp/black_box_predictions
#   tools/train.py CONFIG --cfg-options \
#       train_dataloader.dataset.pipeline.1.pred_dir=work_dirs/atp/black_box_predictions
# (or configs/atp/stages_black_box_toy.py with tools/run_stages.py). No load_from: the source
# weights are never read.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/atp_distill.py',
    '../_base_/datasets/toy_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
train_dataloader = dict(dataset=dict(
    data_prefix=dict(_delete_=True, img_path='images/train'),
    pipeline=[
        dict(type='CheckedLoadImageFromFile'),
        dict(type='LoadSourcePredictions', pred_dir='work_dirs/atp/black_box_predictions',
             num_classes=10),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputsWithSourcePredictions'),
    ]))
max_iters = 800
val_interval = 400
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
load_from = None
