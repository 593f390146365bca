# ATP's three steps on synthia16 -> Cityscapes, each through mmseg's own tools/train.py, from the
# user's synthia16 source model (source-free: no stage reads synthia16 data):
#   python tools/run_stages.py configs/atp/stages_synthia16.py \
#       --work-dir work_dirs/atp/stages_synthia16 \
#       --cfg-options align:load_from=<source checkpoint>
# Each stage hands its last checkpoint to the next.
data_root = 'data'
stages = [
    dict(name='align', load_from=None,
         config='atp-align_deeplabv2_r101_1xb4-10k_synthia16-to-cityscapes-512x512.py'),
    dict(name='teach',
         config='atp-teach_deeplabv2_r101_1xb4-2x5k_synthia16-to-cityscapes-512x512.py'),
    dict(name='propagate',
         config='atp-propagate_deeplabv2_r101_1xb2-40k_synthia16-to-cityscapes-512x512.py'),
]
