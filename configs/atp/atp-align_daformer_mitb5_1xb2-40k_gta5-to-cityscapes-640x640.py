# ATP step A, Align (../_base_/methods/atp_align.py) in the public code's setting: DAFormer with
# MiT-B5 from the GTA5 source model, Cityscapes at (1280, 640) with 640x640 crops, AdamW lr 6e-5
# (head x10) with 1500 warm-up iterations, 40k iterations; rho 0.2 -> 1 over them. DAFormer's
# classifier is its last 1x1 conv (decode_head.conv_seg): frozen; everything else adapts. The
# public code has no Align step (its A checkpoints' training is unpublished): a reconstruction.
# Run: tools/train.py CONFIG --cfg-options load_from=<GTA5 source checkpoint>
_base_ = [
    '../_base_/methods/atp_align_mitb5.py',
    '../_base_/datasets/cityscapes_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
