# ATP's three steps on gta5 -> Cityscapes, each through mmseg's own tools/train.py, from the
# user's gta5 source model (source-free: no stage reads gta5 data):
#   python tools/run_stages.py configs/atp/stages_gta5_mitb5.py \
#       --work-dir work_dirs/atp/stages_gta5_mitb5 \
#       --cfg-options align:load_from=<source checkpoint>
# Each stage hands its last checkpoint to the next.
data_root = 'data'
stages = [
    dict(name='align', load_from=None,
         config='atp-align_daformer_mitb5_1xb2-40k_gta5-to-cityscapes-640x640.py'),
    dict(name='teach',
         config='atp-teach-public_daformer_mitb5_1xb2-40k_gta5-to-cityscapes-640x640.py'),
    dict(name='propagate',
         config='atp-propagate_daformer_mitb5_1xb2-40k_gta5-to-cityscapes-640x640.py'),
]
