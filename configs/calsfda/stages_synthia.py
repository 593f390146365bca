# Cal-SFDA's three stages on SYNTHIA (16 classes) -> Cityscapes (DeepLabV2-ResNet-101), as
# ./stages_toy.py:
#   python tools/run_stages.py configs/calsfda/stages_synthia.py \
#       --work-dir work_dirs/calsfda/synthia
# The configs read data/synthia and data/cityscapes; --data-root ROOT reads ROOT/synthia, ...
data_root = 'data'
stages = [
    dict(name='source', select='min_ece_within_miou',
         config='calsfda-s1-source_deeplabv2_r101_1xb4-40k_synthia16-512x512.py'),
    dict(name='value', config='calsfda-s2-value_deeplabv2_r101_1xb4-20k_synthia16-512x512.py'),
    dict(name='adapt', select='label_free',
         config='calsfda-s3-adapt_deeplabv2_r101_1xb4-2x5k_synthia16-to-cityscapes-512x512.py'),
]
