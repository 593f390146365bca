# DiGA's domain-generalisation warm-up (no translator: the second view is the photometric view
# 0.4 Aug(x_s) + 0.6 x_s; no target data at all) on the toy benchmark. It is also the "symmetric
# KD only" warm-up of the ablation (no cross-domain mixture). Trained on toy source train only,
# validated on the (unseen) target val; the other toy target shifts (tools/make_toy_data.py
# --shift) are further unseen domains (tools/benchmark/diga.py evaluates them).
_base_ = ['./diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-target-128x256.py']
model = dict(mixture=dict(translator=None))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ToyCityDataset',
        data_root='data/toy/source',
        data_prefix=dict(img_path='images/train', seg_map_path='labels/train'),
        pipeline={{_base_.toy_train_pipeline}}))
