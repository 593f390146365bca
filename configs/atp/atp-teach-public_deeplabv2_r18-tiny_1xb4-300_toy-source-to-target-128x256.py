# ATP step T in the public code's form (../_base_/methods/atp_teach_public.py) on the toy
# benchmark: 300 iterations from the Align model, 128x128 class-balanced crops of the 128x256
# images (the public code: 640x640 of 1280x640), EMA alpha 0.99 for the short schedule.
# Run: tools/train.py CONFIG --cfg-options load_from=<Align checkpoint>
_base_ = [
    '../_base_/models/deeplabv2_r18-tiny.py', '../_base_/methods/atp_teach_public.py',
    '../_base_/datasets/toy_target_adapt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/adapt_toy.py'
]
model = dict(_base_.method_model, _delete_=True, student=_base_.model,
             crop=dict(_base_.method_model.crop, crop_size=(128, 128)))
default_hooks = dict(_base_.method_hooks,
                     mean_teacher=dict(_base_.method_hooks.mean_teacher, momentum=0.99))
