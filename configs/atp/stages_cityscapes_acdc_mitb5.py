# ATP's three steps on Cityscapes -> ACDC (all four conditions), each through mmseg's own
# tools/train.py, from the user's Cityscapes source model (a DAFormer MiT-B5 trained on Cityscapes;
# source-free: no stage reads Cityscapes data):
#   python tools/run_stages.py configs/atp/stages_cityscapes_acdc_mitb5.py \
#       --work-dir work_dirs/atp/stages_cityscapes_acdc_mitb5 \
#       --cfg-options align:load_from=<Cityscapes source checkpoint>
# One condition (the public code's benchmark: a model per condition):
# stages_cityscapes_acdc_{night,fog,rain,snow}_mitb5.py. Each stage hands its last checkpoint to
# the next.
data_root = 'data'
stages = [
    dict(name='align', load_from=None,
         config='atp-align_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py'),
    dict(name='teach',
         config='atp-teach-public_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py'),
    dict(name='propagate',
         config='atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-640x640.py'),
]
