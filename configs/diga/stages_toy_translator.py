# DiGA's stages on the toy benchmark with the learned translator (the paper's pipeline), each
# through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/diga/stages_toy_translator.py \
#       --work-dir work_dirs/diga/toy-translator --seed 0
# 0. translator: MUNITLite trained on toy source <-> target train images.
# 1. warmup: symmetric distillation + cross-domain mixture with the translated view; load_from
#    the translator's last checkpoint, which fills model.mixture.translator only.
# 2. selftrain: two rounds as in stages_toy.py, the translator carried in the warm-up checkpoint.
data_root = 'data/toy'
stages = [
    dict(name='translator',
         config='diga-translator_munit-lite-tiny_1xb2-500_toy-source-to-target-128x256.py'),
    dict(name='warmup',
         config='diga-warmup-translator_deeplabv2-proda_r18-tiny_1xb4-300_'
         'toy-source-to-target-128x256.py'),
    dict(name='selftrain',
         config='diga-selftrain-translator_deeplabv2-proda_r18-tiny_1xb4-2x50_'
         'toy-source-to-target-128x256.py'),
]
