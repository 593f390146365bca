# ATP's three steps on Cityscapes -> ACDC snow (stages_cityscapes_acdc_mitb5.py on one condition):
#   python tools/run_stages.py configs/atp/stages_cityscapes_acdc_snow_mitb5.py \
#       --work-dir work_dirs/atp/stages_cityscapes_acdc_snow_mitb5 \
#       --cfg-options align:load_from=<Cityscapes source checkpoint>
_base_ = ['./stages_cityscapes_acdc_mitb5.py']
stages = [
    dict(name='align', load_from=None,
         config='atp-align_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-snow-640x640.py'),
    dict(name='teach',
         config='atp-teach-public_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-snow-640x640.py'),
    dict(name='propagate',
         config='atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-snow-640x640.py'),
]
