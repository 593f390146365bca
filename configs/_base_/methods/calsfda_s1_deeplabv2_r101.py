# Cal-SFDA stage 1 with DeepLabV2-ResNet-101 (ImageNet init, frozen BN), without the data: CE + 1.0 *
# class-level ECE (10 bins, t = 1e-5); every validated checkpoint is kept and CheckpointSelectionHook
# writes each selection rule's pick to <work_dir>/checkpoint_selection.json (arXiv:2308.03003). A
# config adds a source dataset with a held-out validation split (../datasets/*_split_512x512.py)
# and sets decode_head.num_classes. `mIoU` is mmseg's mean over the head's classes (mIoU16 for
# SYNTHIA-16).
_base_ = [
    '../models/deeplabv2_r101_caffe.py', './calsfda_s1.py', '../default_runtime.py',
    '../schedules/sgd_poly_iter.py'
]
crop_size = (512, 512)
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(type='DifferentiableECELoss', n_bins=10, lse_t=1e-5, class_level=True,
             average='all', loss_weight=1.0),
    ]))
# The paper's optimiser: SGD, lr 5e-5, momentum 0.9, Nesterov, weight decay 5e-4, poly 0.9.
optim_wrapper = dict(optimizer=dict(lr=5e-5, nesterov=True))
default_hooks = dict(
    _base_.method_hooks,
    checkpoint=dict(max_keep_ckpts=-1, save_best=['mIoU', 'ECE'], rule=['greater', 'less']))
