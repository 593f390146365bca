# ATP step T, bidirectional Teaching (../_base_/methods/atp_teach.py) on GTA5 -> Cityscapes with
# DeepLabV2-ResNet-101: two offline rounds of 5k iterations [U] from the Align model,
# class-balanced positive labels (proportion 0.2, then 0.25) and negative labels below
# tau_n = 0.05.
# Run: tools/train.py CONFIG --cfg-options load_from=<Align checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/atp_teach.py',
    '../_base_/datasets/cityscapes_512x512_target_offline.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
num_classes = 19
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             pseudo_labeler=dict(_base_.method_model.pseudo_labeler, num_classes=num_classes))
default_hooks = dict(_base_.method_hooks, checkpoint=dict(interval=1000))
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[5000, 5000],
    val_interval=1000,
    label_dataloader={{_base_.cityscapes_label_dataloader}})
