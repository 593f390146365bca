# DiGA self-training on SYNTHIA -> Cityscapes whose source mixture keeps the learned translated
# view (DiGA's code starts its self-training from the warm-up's student, teacher and translator):
# diga-selftrain_deeplabv2-proda_r101_1xb3-2x80k_synthia-to-cityscapes-512x896.py with the
# translator of the warm-up checkpoint (load_from: the last checkpoint of
# diga-warmup-translator_*_synthia-to-cityscapes-512x896.py).
_base_ = [
    './diga-selftrain_deeplabv2-proda_r101_1xb3-2x80k_synthia-to-cityscapes-512x896.py',
    '../_base_/models/munit_lite.py'
]
model = dict(mixture=dict(translator=dict(_base_.munit_translated_view, _delete_=True)))
