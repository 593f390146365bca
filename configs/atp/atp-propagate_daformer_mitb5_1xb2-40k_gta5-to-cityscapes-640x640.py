# ATP step P, information Propagation (../_base_/methods/atp_propagate.py) in the public code's
# setting (its atp_semi): DAFormer MiT-B5 from the Teach model, entropy split (lambda 0.3) of
# Cityscapes train, 640x640 crops of (1280, 640) images, easy -> hard ClassMix, prototype contrast
# from iteration 1500 in a projection head on the resize-concat of the four MiT stages
# (64 + 128 + 320 + 512 channels -> 512), EMA 0.999, AdamW 6e-5, 40k iterations.
# Run: tools/train.py CONFIG --cfg-options load_from=<Teach checkpoint>
_base_ = [
    '../_base_/methods/atp_propagate_mitb5.py',
    '../_base_/datasets/cityscapes_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
model = dict(pseudo_labeler=dict(ignore_top=15, ignore_bottom=120))
default_hooks = _base_.method_hooks
model_wrapper_cfg = _base_.method_model_wrapper_cfg
# _delete_: the pairs replace the base's single-image train dataset (merged, its keys would reach
# EasyHardPairDataset)
train_dataloader = dict(persistent_workers=True,
                        dataset=dict(_base_.cityscapes640_easy_hard_dataset, _delete_=True))
train_cfg = dict(
    _delete_=True,
    type='EntropySplitLoop',
    max_iters=40000,
    val_interval=4000,
    easy_ratio=0.3,
    rank_dataloader=_base_.cityscapes640_rank_dataloader)
