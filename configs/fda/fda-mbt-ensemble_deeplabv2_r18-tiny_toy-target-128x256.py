# FDA-MBT on the toy benchmark: evaluate (tools/test.py) or label the target set
# (tools/gen_pseudo_labels.py) with the mean probabilities of three FDA models trained with
# beta 0.01 / 0.05 / 0.09 (the toy FDA config with --cfg-options model.style_transfer.beta=...):
#   python tools/model_converters/make_ensemble.py CONFIG --checkpoints B001.pth B005.pth B009.pth \
#       --out mbt.pth
#   python tools/test.py CONFIG mbt.pth
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target.py',
    '../_base_/default_runtime.py', '../_base_/schedules/toy.py'
]  # the schedule only completes the runner's config: an ensemble is evaluated, never trained
model = dict(
    _delete_=True,
    type='EnsembleSegmentor',
    members=[_base_.model] * 3,
    checkpoints=None,
    # The self-supervised round of FDA-MBT keeps, per class, the ensemble's most confident pixels.
    pseudo_labeler=dict(type='ClassBalancedLabeler', num_classes=10, proportion=0.5,
                        mode='offline'))
