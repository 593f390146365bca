# ATP step T in the public code's form (../_base_/methods/atp_teach_public.py; its atp_tta):
# DAFormer MiT-B5 from the Align model, whole Cityscapes images at (1280, 640), 640x640
# class-balanced crops on the EMA teacher's pseudo-label (cat_max_ratio 0.75) relabelled by the
# teacher, the top 15 / bottom 120 rows of the pseudo-label weighted 0 (the public `plcrop`),
# AdamW 6e-5, 40k iterations.
# Run: tools/train.py CONFIG --cfg-options load_from=<Align checkpoint>
_base_ = [
    '../_base_/methods/atp_teach_public_mitb5.py',
    '../_base_/datasets/cityscapes_640x640_target_atp.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_warmup_poly_40k.py'
]
# The data preprocessor takes the whole resized image; the model crops it.
model = dict(student=dict(data_preprocessor=dict(size=(640, 1280))),
             pseudo_labeler=dict(ignore_top=15, ignore_bottom=120))
default_hooks = _base_.method_hooks
train_dataloader = dict(dataset=_base_.cityscapes640_full_train_dataset)
