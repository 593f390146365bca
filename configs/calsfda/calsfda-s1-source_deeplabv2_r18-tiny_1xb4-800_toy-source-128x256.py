# Cal-SFDA stage 1 (SPEC 3.2-3.4): source training with the differentiable class-level ECE loss
# (L = CE + 1.0 * ClassECE, 10 bins, t = 1e-5), validated on source val every 200 iterations.
# Every validation is recorded with its checkpoint by CheckpointSelectionHook, which writes the pick
# of each source-selection rule to <work_dir>/checkpoint_selection.json: lowest source-val ECE,
# highest mIoU, and lowest ECE among the checkpoints within `margin` mIoU of the best (the default
# for stage 2, see configs/calsfda/README.md; the paper's exact rule could not be checked, [U]).
#   python tools/analysis/select_checkpoint.py WORK_DIR --rule min_ece_within_miou --print-path
_base_ = ['../source_only/deeplabv2_r18-tiny_ece-loss_1xb4-800_toy-source-128x256.py']
# Keep every validated checkpoint: the selection may pick any of them.
default_hooks = dict(checkpoint=dict(max_keep_ckpts=-1))
custom_hooks = [
    dict(type='CheckpointSelectionHook',
         rules=[
             dict(name='min_ece', key='ECE', mode='min'),
             dict(name='max_miou', key='mIoU', mode='max'),
             dict(name='min_ece_within_miou', key='ECE', mode='min',
                  within=dict(key='mIoU', margin=1.0)),
         ])
]
