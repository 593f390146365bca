# ATP step P, information Propagation (../_base_/methods/atp_propagate.py) on the toy benchmark:
# 300 iterations from the Teach model; the split (lambda = 0.3 easy) is written to
# <work_dir>/entropy_split/ first. Shorter-schedule change: the prototype contrast from step 100
# (the public code: 1500 of 40k). The EMA teacher is the base's (alpha 0.999 without warm-up, so
# it stays near the Teach model over the 300 iterations). The projection head reads the
# r18-tiny's last stage (128 channels).
# Run: tools/train.py CONFIG --cfg-options load_from=<Teach checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/atp_propagate.py',
    '../_base_/datasets/toy_target_easy_hard.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(
    _base_.method_model, _delete_=True, student=_base_.model, contrast_begin=100,
    aux=dict(proj_head=dict(_base_.method_model.aux.proj_head, in_channels=128),
             prototypes=dict(_base_.method_model.aux.prototypes, num_classes=10)))
default_hooks = _base_.method_hooks
model_wrapper_cfg = _base_.method_model_wrapper_cfg
train_cfg = dict(
    _delete_=True,
    type='EntropySplitLoop',
    max_iters=300,
    val_interval=150,
    easy_ratio=0.3,
    rank_dataloader={{_base_.toy_rank_dataloader}})
