# DiGA on SYNTHIA -> Cityscapes, each stage through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/diga/stages_synthia.py --work-dir work_dirs/diga/synthia \
#       --data-root data
# warmup (60k) -> selftrain (2 rounds of 80k from the warm-up's last checkpoint). DiGA reports
# the best target-val mIoU checkpoint of each stage (oracle); --select is not needed for that: the
# stage keeps best_mIoU_iter_*.pth beside its last checkpoint.
data_root = 'data'
stages = [
    dict(name='warmup', config='diga-warmup_deeplabv2-proda_r101_1xb3-60k_synthia-to-cityscapes-512x896.py'),
    dict(name='selftrain',
         config='diga-selftrain_deeplabv2-proda_r101_1xb3-2x80k_synthia-to-cityscapes-512x896.py'),
]
