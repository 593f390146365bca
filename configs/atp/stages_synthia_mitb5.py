# ATP's three steps on synthia -> Cityscapes, each through mmseg's own tools/train.py, from the
# user's synthia source model (source-free: no stage reads synthia data):
#   python tools/run_stages.py configs/atp/stages_synthia_mitb5.py \
#       --work-dir work_dirs/atp/stages_synthia_mitb5 \
#       --cfg-options align:load_from=<source checkpoint>
# Each stage hands its last checkpoint to the next.
data_root = 'data'
stages = [
    dict(name='align', load_from=None,
         config='atp-align_daformer_mitb5_1xb2-40k_synthia-to-cityscapes-640x640.py'),
    dict(name='teach',
         config='atp-teach-public_daformer_mitb5_1xb2-40k_synthia-to-cityscapes-640x640.py'),
    dict(name='propagate',
         config='atp-propagate_daformer_mitb5_1xb2-40k_synthia-to-cityscapes-640x640.py'),
]
