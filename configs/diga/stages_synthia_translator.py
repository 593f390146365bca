# DiGA on SYNTHIA -> Cityscapes with the learned translator (the paper's pipeline), each stage
# through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/diga/stages_synthia_translator.py \
#       --work-dir work_dirs/diga/synthia-translator --data-root data
# translator (50k) -> warmup (60k; load_from the translator's last checkpoint, which fills
# model.mixture.translator only) -> selftrain (2 rounds of 80k from the warm-up's last
# checkpoint, translator included).
data_root = 'data'
stages = [
    dict(name='translator',
         config='diga-translator_munit-lite_1xb2-50k_synthia-to-cityscapes-512x896.py'),
    dict(name='warmup',
         config='diga-warmup-translator_deeplabv2-proda_r101_1xb3-60k_'
         'synthia-to-cityscapes-512x896.py'),
    dict(name='selftrain',
         config='diga-selftrain-translator_deeplabv2-proda_r101_1xb3-2x80k_'
         'synthia-to-cityscapes-512x896.py'),
]
