# AdaptSegNet (../_base_/methods/adaptsegnet.py) on the toy benchmark: the tiny DeepLabV2 gets
# AdaptSegNet's second classifier on layer 3 (its source CE weighted 0.1) and a discriminator per
# level; 300 iterations from the source model (whose checkpoint has no layer-3 classifier: it
# starts from its random initialisation, as in the paper where it is new too).
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/adaptsegnet.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adversarial_toy.py'
]
model = dict(
    _base_.method_model,
    _delete_=True,
    student=dict(
        _base_.model,
        backbone=dict(_base_.model.backbone, out_indices=(2, 3)),
        decode_head=dict(_base_.model.decode_head, in_index=1),
        auxiliary_head=dict(_base_.model.decode_head, in_channels=64, in_index=0,
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.1))))
