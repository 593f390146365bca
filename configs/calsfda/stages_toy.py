# Cal-SFDA's three stages on the toy benchmark, each through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/calsfda/stages_toy.py --work-dir work_dirs/calsfda/toy \
#       --seed 0
# 1. source: source training with the ECE loss; the stage-1 rule `min_ece_within_miou` picks the
#    checkpoint stage 2 starts from (--select source=min_ece for another rule).
# 2. value: the value net, from that checkpoint; its last checkpoint starts stage 3.
# 3. adapt: BN warm-up, ECE-guided self-training rounds, label-free selection (`label_free`: lowest
#    estimated ECE; `oracle`: highest target mIoU, reported beside it).
data_root = 'data/toy'
stages = [
    dict(name='source', select='min_ece_within_miou',
         config='calsfda-s1-source_deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'),
    dict(name='value', config='calsfda-s2-value_deeplabv2_r18-tiny_1xb4-300_toy-source-128x256.py'),
    dict(name='adapt', select='label_free',
         config='calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'),
]
