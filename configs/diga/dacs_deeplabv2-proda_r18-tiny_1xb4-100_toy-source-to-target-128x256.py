# The engine's DACS (../dacs/, SelfTrainingSegmentor) on the network of the DiGA toy configs (ProDA
# head), as DiGA's comparison on the toy benchmark: 100 iterations (DiGA's two self-training
# rounds) from the DiGA source-only model
#   --cfg-options load_from=<diga-source-only ... iter_300.pth>
# validated on target val every 25 iterations.
_base_ = ['../dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py']
max_iters = 100
val_interval = 25
model = dict(
    student=dict(
        decode_head=dict(
            _delete_=True,
            type='ProDAHead',
            in_channels=128,
            in_index=0,
            channels=32,
            num_groups=8,
            dilations=(1, 3, 6, 9),
            dropout_ratio=0.1,
            num_classes=10,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
