# ATP step A, Align (../_base_/methods/atp_align.py) on the toy benchmark: 300 iterations on
# target train images from the source model, the DeepLabV2 ASPP classifier frozen; rho grows
# from 0.2 to 1 over the 300 iterations. Validated on target val.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
# (or the three stages with tools/run_stages.py configs/atp/stages_toy.py)
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/atp_align.py',
    '../_base_/datasets/toy_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             target_losses=[dict(type='CurriculumEntropyLoss', rho_0=0.2, rho_iters=300)])
