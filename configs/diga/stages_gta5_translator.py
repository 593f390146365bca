# DiGA on GTA5 -> Cityscapes with the learned translator (the paper's pipeline), each stage
# through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/diga/stages_gta5_translator.py \
#       --work-dir work_dirs/diga/gta5-translator --data-root data
# translator (50k) -> warmup (80k; load_from the translator's last checkpoint, which fills
# model.mixture.translator only) -> selftrain (2 rounds of 80k from the warm-up's last
# checkpoint, translator included).
data_root = 'data'
stages = [
    dict(name='translator',
         config='diga-translator_munit-lite_1xb2-50k_gta5-to-cityscapes-512x896.py'),
    dict(name='warmup',
         config='diga-warmup-translator_deeplabv2-proda_r101_1xb3-80k_'
         'gta5-to-cityscapes-512x896.py'),
    dict(name='selftrain',
         config='diga-selftrain-translator_deeplabv2-proda_r101_1xb3-2x80k_'
         'gta5-to-cityscapes-512x896.py'),
]
