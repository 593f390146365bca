# DiGA warm-up with the learned translated view (the paper's setting): the cross-domain mixture's
# translated view is dec_t(enc_s(x_s)) of the toy MUNITLite
# (diga-translator_munit-lite-tiny_1xb2-500_toy-source-to-target-128x256.py), frozen. The train
# batches are source images only (the translator carries the target style; DiGA's code loads
# target images in the warm-up but never trains on them). Everything else as the FDA warm-up.
# The translator's weights: its checkpoint as this run's load_from (the student and the teacher
# keep their initialisation; tools/run_stages.py configs/diga/stages_toy_translator.py does
# this), or model.mixture.translator.checkpoint=<file>:
#   python tools/train.py <this file> \
#       --cfg-options load_from=<translator work dir>/iter_500.pth
_base_ = [
    './diga-warmup-dg_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-128x256.py',
    '../_base_/models/munit_lite-tiny.py'
]
model = dict(mixture=dict(translator=dict(_base_.munit_translated_view, _delete_=True)))
