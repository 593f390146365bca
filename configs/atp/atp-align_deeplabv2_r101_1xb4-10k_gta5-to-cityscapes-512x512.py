# ATP step A, Align (../_base_/methods/atp_align.py) on GTA5 -> Cityscapes with the paper's
# DeepLabV2-ResNet-101: curriculum entropy minimisation on Cityscapes train images for 10k
# iterations [U] (rho 0.2 -> 1 over them), the ASPP classifier frozen, the backbone adapting (its BN
# frozen, as the source model's).
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/methods/atp_align.py',
    '../_base_/datasets/cityscapes_512x512_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_cityscapes.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             target_losses=[dict(type='CurriculumEntropyLoss', rho_0=0.2, rho_iters=10000)])
