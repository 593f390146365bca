# DiGA self-training whose source mixture keeps the learned translated view (DiGA's code starts
# its self-training from the warm-up's student, teacher and translator). The translator's weights
# come with the warm-up checkpoint (load_from; from
# diga-warmup-translator_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-target-128x256.py).
# Everything else as the FDA self-training config.
_base_ = [
    './diga-selftrain_deeplabv2-proda_r18-tiny_1xb4-2x50_toy-source-to-target-128x256.py',
    '../_base_/models/munit_lite-tiny.py'
]
model = dict(mixture=dict(translator=dict(_base_.munit_translated_view, _delete_=True)))
