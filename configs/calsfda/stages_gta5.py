# Cal-SFDA's three stages on GTA5 -> Cityscapes (DeepLabV2-ResNet-101), as ./stages_toy.py:
#   python tools/run_stages.py configs/calsfda/stages_gta5.py --work-dir work_dirs/calsfda/gta5
# The configs read data/gta and data/cityscapes; --data-root ROOT reads ROOT/gta, ROOT/cityscapes.
data_root = 'data'
stages = [
    dict(name='source', select='min_ece_within_miou',
         config='calsfda-s1-source_deeplabv2_r101_1xb4-40k_gta5-512x512.py'),
    dict(name='value', config='calsfda-s2-value_deeplabv2_r101_1xb4-20k_gta5-512x512.py'),
    dict(name='adapt', select='label_free',
         config='calsfda-s3-adapt_deeplabv2_r101_1xb4-2x5k_gta5-to-cityscapes-512x512.py'),
]
