# AdvEnt (./advent.py) with DeepLabV2-ResNet-101 (frozen BN) and the paper's schedule
# (../schedules/adversarial_120k.py: SGD 2.5e-4 / Adam 1e-4, poly towards 250k, stopped at 120k),
# without the data: a config adds a (source, Cityscapes) pair dataset
# (../datasets/*_to_cityscapes_512x512.py). Crops are 512x512 (the paper: whole images).
_base_ = [
    '../models/deeplabv2_r101_caffe.py', './advent.py', '../default_runtime.py',
    '../schedules/adversarial_120k.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
