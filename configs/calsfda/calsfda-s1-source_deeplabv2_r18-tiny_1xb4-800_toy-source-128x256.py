# Cal-SFDA stage 1 (arXiv:2308.03003; configs/calsfda/README.md): source training with the
# differentiable class-level ECE loss
# (L = CE + 1.0 * ClassECE, 10 bins, t = 1e-5), validated on source val every 200 iterations.
# Every validation is recorded with its checkpoint by CheckpointSelectionHook, which writes the pick
# of each source-selection rule to <work_dir>/checkpoint_selection.json: lowest source-val ECE,
# highest mIoU, and lowest ECE among the checkpoints within `margin` mIoU of the best (the default
# for stage 2, see configs/calsfda/README.md; the paper's exact rule could not be checked, [U]).
#   python tools/analysis/select_checkpoint.py WORK_DIR --rule min_ece_within_miou --print-path
_base_ = ['../source_only/deeplabv2_r18-tiny_ece-loss_1xb4-800_toy-source-128x256.py',
          '../_base_/methods/calsfda_s1.py']
# Keep every validated checkpoint: the selection may pick any of them.
default_hooks = dict(_base_.method_hooks, checkpoint=dict(max_keep_ckpts=-1))
