# ATP's three steps on the toy benchmark, each through mmseg's own tools/train.py, from a trained
# source model (source-free: no source data in any stage):
#   python tools/run_stages.py configs/atp/stages_toy.py --work-dir work_dirs/atp/toy --seed 0 \
#       --cfg-options align:load_from=<source checkpoint>
# 1. align: curriculum entropy minimisation, classifier frozen;
# 2. teach: two offline rounds with positive (class-balanced) and negative pseudo-labels;
# 3. propagate: entropy split (lambda 0.3), easy -> hard ClassMix and prototype contrast.
# Each stage hands its last checkpoint to the next.
data_root = 'data/toy'
stages = [
    dict(name='align', load_from=None,
         config='atp-align_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    dict(name='teach',
         config='atp-teach_deeplabv2_r18-tiny_1xb4-2x150_toy-source-to-target-128x256.py'),
    dict(name='propagate',
         config='atp-propagate_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
]
