# ATP step P, information Propagation (../_base_/methods/atp_propagate.py; the public atp_semi) on
# Cityscapes -> ACDC: DAFormer MiT-B5 from the Teach model, entropy split (lambda 0.3, the public
# entropy_rank_acdc) of the ACDC train images ranked at (1280, 720), 640x640 crops, easy -> hard
# ClassMix, prototype contrast from iteration 1500 in a projection head on the resize-concat of the
# four MiT stages (64 + 128 + 320 + 512 channels -> 512), EMA 0.999, AdamW 6e-5, 40k iterations.
# No pseudo-label rows are cut (see the teach-public config). All four conditions; the
# per-condition configs (*-acdc-{night,fog,rain,snow}-640x640.py) inherit this one.
# Run: tools/train.py CONFIG --cfg-options load_from=<Teach checkpoint>
_base_ = [
    '../_base_/methods/atp_propagate_mitb5.py',
    '../_base_/datasets/acdc_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
default_hooks = _base_.method_hooks
model_wrapper_cfg = _base_.method_model_wrapper_cfg
# _delete_: the pairs replace the base's single-image train dataset (merged, its keys would reach
# EasyHardPairDataset)
train_dataloader = dict(persistent_workers=True,
                        dataset=dict(_base_.acdc640_easy_hard_dataset, _delete_=True))
train_cfg = dict(
    _delete_=True,
    type='EntropySplitLoop',
    max_iters=40000,
    val_interval=4000,
    easy_ratio=0.3,
    rank_dataloader=_base_.acdc640_rank_dataloader)
