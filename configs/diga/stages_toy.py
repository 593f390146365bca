# DiGA's stages on the toy benchmark, each through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/diga/stages_toy.py --work-dir work_dirs/diga/toy --seed 0
# 1. warmup: symmetric distillation + cross-domain mixture (FDA translated view), from scratch on
#    source data (target images only as FDA styles); its last checkpoint starts stage 2.
# 2. selftrain: two rounds (offline multi-scale labels by the student before each, prototypes
#    initialised from the warm-up student's target features, dynamic prototype-consensus
#    selection every iteration).
data_root = 'data/toy'
stages = [
    dict(name='warmup',
         config='diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    dict(name='selftrain',
         config='diga-selftrain_deeplabv2-proda_r18-tiny_1xb4-2x50_toy-source-to-target-128x256.py'),
]
