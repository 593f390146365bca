# Cal-SFDA stage 1 (Wang et al., ACM MM 2023, arXiv:2308.03003, Sec. 3.2; configs/calsfda/README.md):
# source selection by calibration. CheckpointSelectionHook records every validation with its
# checkpoint and writes each rule's pick to <work_dir>/checkpoint_selection.json: the lowest source
# val ECE, the highest mIoU, and the lowest ECE among the checkpoints within `margin` mIoU of the
# best (the default for stage 2; the paper's exact rule could not be checked, [U]). Use:
#   default_hooks = dict(_base_.method_hooks, checkpoint=dict(max_keep_ckpts=-1))
method_hooks = dict(
    checkpoint_selection=dict(
        type='CheckpointSelectionHook',
        rules=[
            dict(name='min_ece', key='ECE', mode='min'),
            dict(name='max_miou', key='mIoU', mode='max'),
            dict(name='min_ece_within_miou', key='ECE', mode='min',
                 within=dict(key='mIoU', margin=1.0)),
        ]))
