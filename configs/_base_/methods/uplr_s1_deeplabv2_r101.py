# UPLR stage 1 (./uplr_s1.py) with DeepLabV2-ResNet-101 (frozen BN) and the AdvEnt lineage's
# schedule (../schedules/adversarial_120k.py: SGD 2.5e-4 / Adam 1e-4 betas (0.9, 0.99), poly 0.9
# towards 250k, stopped at 120k), batch 1 source + 1 target, without the data: a config adds a
# (source, Cityscapes) pair dataset and sets its sampler to `soft_balance_sampler` (batch 1).
_base_ = [
    '../models/deeplabv2_r101.py', './uplr_s1.py', '../default_runtime.py',
    '../schedules/adversarial_120k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
# I^c and S_k over Cityscapes train (test pipeline, every image once, no labels).
cityscapes_uncertainty_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CityscapesDataset',
        data_root='data/cityscapes',
        data_prefix=dict(img_path='leftImg8bit/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(1024, 512), keep_ratio=True),
            dict(type='PackSegInputs'),
        ]))
default_hooks = dict(
    _base_.method_hooks,
    class_uncertainty=dict(_base_.method_hooks.class_uncertainty,
                           dataloader=cityscapes_uncertainty_dataloader))
