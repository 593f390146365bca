# ATP step T in the public code's form (../_base_/methods/atp_teach_public.py; its atp_tta) on
# Cityscapes -> ACDC: DAFormer MiT-B5 from the Align model, whole ACDC train images at
# (1280, 720), 640x640 class-balanced crops on the EMA teacher's pseudo-label (cat_max_ratio 0.75)
# relabelled by the teacher, AdamW 6e-5, 40k iterations. No rows of the pseudo-label are cut (the
# GTA5 -> Cityscapes configs cut Cityscapes' top 15 / bottom 120, the public `plcrop`; its
# Cityscapes -> ACDC experiment (experiments.py id 6) never applies it): set
# model.pseudo_labeler.ignore_top / ignore_bottom to cut. All four conditions; the per-condition
# configs (*-acdc-{night,fog,rain,snow}-640x640.py) inherit this one.
# Run: tools/train.py CONFIG --cfg-options load_from=<Align checkpoint>
_base_ = [
    '../_base_/methods/atp_teach_public_mitb5.py',
    '../_base_/datasets/acdc_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
# The data preprocessor takes the whole resized image; the model crops it.
model = dict(student=dict(data_preprocessor=dict(size=(720, 1280))))
default_hooks = _base_.method_hooks
train_dataloader = dict(dataset=_base_.acdc640_full_train_dataset)
