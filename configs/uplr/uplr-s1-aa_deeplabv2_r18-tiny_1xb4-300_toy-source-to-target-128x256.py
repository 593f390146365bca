# UPLR stage 1 (../_base_/methods/uplr_s1.py: AdvEnt + FDA + soft-balance sampling + TGAA) on the
# toy benchmark: 300 iterations from the source model, AdvEnt's discriminator optimiser.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>, or the whole method with
#   python tools/run_stages.py configs/uplr/stages_toy.py --work-dir work_dirs/uplr/toy --seed 0
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/uplr_s1.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py', '../_base_/schedules/adversarial_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model)
# The sampler picks the source image (no rare-class sampling: toy_uda.py's pairs without it); the
# target image is uniform.
train_dataloader = dict(
    sampler=dict(_base_.soft_balance_sampler, _delete_=True),
    dataset=dict(
        _delete_=True,
        type='DomainPairDataset',
        source=_base_.train_dataloader.dataset.source,
        target=_base_.train_dataloader.dataset.target))
# I^c and S_k: every target train image once, test pipeline. Its labels are not loaded.
target_label_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(_base_.toy_target_train_dataset,
                 pipeline=[dict(type='CheckedLoadImageFromFile'), dict(type='PackSegInputs')]))
default_hooks = dict(
    _base_.method_hooks,
    class_uncertainty=dict(_base_.method_hooks.class_uncertainty,
                           dataloader=target_label_dataloader))
