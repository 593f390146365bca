# DiGA warm-up on GTA5 -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): DeepLabV2-R101 +
# ProDA head from ImageNet weights, 80k iterations, batch 3, 512x896 crops, lambda_KD 0.5,
# cross-domain mixture (beta 0.4; translated view: FDA with a random Cityscapes image by default),
# EMA teacher 0.999, CE with ignore 255.
#   python tools/run_stages.py configs/diga/stages_gta5.py --work-dir work_dirs/diga/gta5
_base_ = [
    '../_base_/models/deeplabv2-proda_r101.py', '../_base_/methods/diga_warmup.py',
    '../_base_/datasets/diga_gta5_to_cityscapes_512x896.py', '../_base_/default_runtime.py',
    '../_base_/schedules/diga_sgd_poly.py'
]
model = dict(_base_.method_model, _delete_=True,
             student=dict(_base_.model, data_preprocessor=dict(_base_.data_preprocessor, size=(512, 896))))
data_preprocessor = dict(size=(512, 896))
# DiGA's evaluation: tools/test.py CONFIG CKPT --tta (full + half resolution, max fusion).
tta_model = dict(type='MaxFusionSegTTAModel')
default_hooks = dict(_base_.method_hooks)
