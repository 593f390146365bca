# CBST (Zou et al., ECCV 2018) as a source-free baseline: offline class-balanced self-training in
# rounds. Before each round SelfTrainingLoop labels every target train image with the current model
# (ClassBalancedLabeler, mode='offline': per-class thresholds keep the most confident `proportion`
# of each class's pixels over the whole target set), writes the labels under
# <work_dir>/pseudo_labels/round_<r>/, then trains 200 iterations on them with cross-entropy.
# The labels of round r come from the model after round r-1 (round 0: the source model), as in
# CBST: the teacher that labels is kept equal to the student by MeanTeacherHook with momentum 0
# (teacher := student, buffers included, after every step), and labels in eval mode.
# Starts from a source model: --cfg-options load_from=<source checkpoint>.
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/datasets/toy_target_offline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adapt_toy.py'
]
model = dict(
    _delete_=True,
    type='SelfTrainingSegmentor',
    setting='sfda',
    student={{_base_.model}},
    pseudo_labels_from='dataset',
    # CBST grows the proportion from 0.2 by 0.05 per round up to 0.5 (proportion=0.2,
    # proportion_step=0.05, max_proportion=0.5); two short toy rounds use 0.5 throughout.
    pseudo_labeler=dict(type='ClassBalancedLabeler', num_classes=10, proportion=0.5,
                        mode='offline'),
    # CBST's loss: plain cross-entropy over the labelled pixels (mean over them).
    target_losses=[dict(type='PseudoLabelCELoss', avg='weights')],
    teacher_mode='eval')
train_cfg = dict(
    _delete_=True,
    type='SelfTrainingLoop',
    rounds=[200, 200],
    val_interval=200,
    label_dataloader={{_base_.toy_label_dataloader}})
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=400, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=200))
custom_hooks = [
    dict(type='MeanTeacherHook', momentum=0.0, skip_buffers=False),
    dict(type='PseudoLabelStatsHook', interval=50),
]
