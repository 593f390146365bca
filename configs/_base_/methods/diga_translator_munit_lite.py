# DiGA's image translator (./diga_translator.py: losses and weights) as MUNITLite
# (../models/munit_lite.py) on 512x896 crops with its Adam + poly schedule
# (../schedules/diga_translator_adam_poly.py), without the data: a config adds a (source,
# Cityscapes) pair dataset through the translator's pipelines (crop `crop_size`) and sets the
# validation and test entries to None (the translator has no metric).
_base_ = [
    '../models/munit_lite.py', './diga_translator.py', '../default_runtime.py',
    '../schedules/diga_translator_adam_poly.py'
]
crop_size = (512, 896)
model = dict(
    _base_.diga_translator_model,
    generator=_base_.munit_generator,
    discriminator=_base_.munit_discriminator,
    image_size=crop_size,
    data_preprocessor=dict(_base_.diga_translator_model.data_preprocessor, size=crop_size))
