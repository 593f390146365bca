# Toy benchmark, source-free adaptation: train on target train images, validate/test on target val.
# Target train labels are loaded only so that PseudoLabelStatsHook can report pseudo-label accuracy;
# no loss reads them (SelfTrainingSegmentor uses target ground truth for statistics only).
_base_ = ['./toy_source_to_target.py']
train_dataloader = dict(
    dataset=dict(data_root='data/toy/target'))
