# DiGA self-training on GTA5 -> Cityscapes whose source mixture keeps the learned translated
# view (DiGA's code starts its self-training from the warm-up's student, teacher and translator):
# diga-selftrain_deeplabv2-proda_r101_1xb3-2x80k_gta5-to-cityscapes-512x896.py with the
# translator of the warm-up checkpoint (load_from: the last checkpoint of
# diga-warmup-translator_*_gta5-to-cityscapes-512x896.py).
_base_ = [
    './diga-selftrain_deeplabv2-proda_r101_1xb3-2x80k_gta5-to-cityscapes-512x896.py',
    '../_base_/models/munit_lite.py'
]
model = dict(
    mixture=dict(translator=dict(
        _delete_=True,
        type='LearnedTranslatedView',
        generator=_base_.munit_generator,
        image_size=(512, 896),
        checkpoint=None)))
