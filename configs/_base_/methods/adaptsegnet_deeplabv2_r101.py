# AdaptSegNet (./adaptsegnet.py) with DeepLabV2-ResNet-101 and AdvEnt's schedule
# (../schedules/adversarial_120k.py), without the data: the network gets a second
# DeepLabV2 classifier on layer 3 (1024 channels, source CE weight 0.1).
_base_ = [
    '../models/deeplabv2_r101_caffe.py', './adaptsegnet.py', '../default_runtime.py',
    '../schedules/adversarial_120k.py'
]
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(
        _base_.model,
        backbone=dict(_base_.model.backbone, out_indices=(2, 3)),
        decode_head=dict(_base_.model.decode_head, in_index=1),
        auxiliary_head=dict(_base_.model.decode_head, in_channels=1024, in_index=0,
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.1))))
