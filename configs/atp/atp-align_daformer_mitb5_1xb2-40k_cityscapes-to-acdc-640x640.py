# ATP step A, Align (../_base_/methods/atp_align.py) on Cityscapes -> ACDC in the public code's
# DAFormer setting: the GTA5 -> Cityscapes public-setting config
# (atp-align_daformer_mitb5_1xb2-40k_gta5-to-cityscapes-640x640.py: MiT-B5, AdamW lr 6e-5 (head
# x10), 1500 warm-up iterations, 40k iterations, rho 0.2 -> 1, classifier decode_head.conv_seg
# frozen) from a Cityscapes source model, ACDC train images at (1280, 720) with 640x640 crops
# (../_base_/datasets/acdc_640x640_target_atp.py). All four conditions; the per-condition configs
# (*-acdc-{night,fog,rain,snow}-640x640.py) inherit this one. A reconstruction, like the GTA5 one.
# Run: tools/train.py CONFIG --cfg-options load_from=<Cityscapes source checkpoint>
_base_ = [
    '../_base_/methods/atp_align_mitb5.py',
    '../_base_/datasets/acdc_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
