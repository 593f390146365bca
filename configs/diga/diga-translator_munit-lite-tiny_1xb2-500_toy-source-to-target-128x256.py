# DiGA's image translator (MUNITLite at toy size, ../_base_/models/munit_lite-tiny.py; losses and
# weights of ../_base_/methods/diga_translator.py) on the toy benchmark: toy source train (images
# and labels, for the semantic-edge loss) <-> toy target train (images), two (source, target)
# pairs of 128x256 images per batch, 500 iterations, Adam 1e-4 betas (0.5, 0.999), poly 0.9; no
# VGG perceptual term (no VGG19 weights here). Its last checkpoint is the load_from of the
# translator warm-up (configs/diga/stages_toy_translator.py chains them).
#   python tools/train.py \
#       configs/diga/diga-translator_munit-lite-tiny_1xb2-500_toy-source-to-target-128x256.py
_base_ = [
    '../_base_/models/munit_lite-tiny.py', '../_base_/methods/diga_translator.py',
    '../_base_/datasets/toy_uda.py', '../_base_/default_runtime.py',
    '../_base_/schedules/diga_translator_adam_poly.py'
]
max_iters = 500
model = dict(
    _base_.diga_translator_model,
    generator=_base_.munit_generator,
    discriminator=_base_.munit_discriminator,
    image_size=_base_.crop_size,
    data_preprocessor=dict(_base_.diga_translator_model.data_preprocessor,
                           size=_base_.crop_size))
# Uniform source sampling (DiGA), 2 pairs per batch.
train_dataloader = dict(batch_size=2, dataset=dict(rare_class_sampling=None))
param_scheduler = dict(
    generator=[dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)],
    discriminator=[
        dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters, by_epoch=False)
    ])
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# No validation or test: the translator has no metric.
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=250), logger=dict(interval=50))
