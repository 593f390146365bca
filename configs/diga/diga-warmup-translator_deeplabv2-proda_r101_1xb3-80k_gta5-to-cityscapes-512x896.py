# DiGA warm-up on GTA5 -> Cityscapes with the learned translated view (the paper's setting):
# diga-warmup_deeplabv2-proda_r101_1xb3-80k_gta5-to-cityscapes-512x896.py with
# model.mixture.translator = the frozen source encoder and target decoder of
# diga-translator_munit-lite_1xb2-50k_gta5-to-cityscapes-512x896.py. Train batches are GTA5
# only (DiGA's code loads Cityscapes images in the warm-up but does not train on them). The
# translator's weights: its checkpoint as this run's load_from (the student keeps its ImageNet
# initialisation; stages_gta5_translator.py does this) or
# model.mixture.translator.checkpoint=<file>.
_base_ = [
    './diga-warmup_deeplabv2-proda_r101_1xb3-80k_gta5-to-cityscapes-512x896.py',
    '../_base_/models/munit_lite.py'
]
model = dict(mixture=dict(translator=dict(_base_.munit_translated_view, _delete_=True)))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.diga_gta5_dataset))
