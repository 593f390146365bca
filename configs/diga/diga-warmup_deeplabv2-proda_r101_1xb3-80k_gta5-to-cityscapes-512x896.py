# DiGA warm-up on GTA5 -> Cityscapes (arXiv:2304.02222; configs/diga/README.md): DeepLabV2-R101 +
# ProDA head from ImageNet weights, 80k iterations, batch 3, 512x896 crops, lambda_KD 0.5,
# cross-domain mixture (beta 0.4; translated view: FDA with a random Cityscapes image by default),
# EMA teacher 0.999, CE with ignore 255.
#   python tools/run_stages.py configs/diga/stages_gta5.py --work-dir work_dirs/diga/gta5
# DiGA's evaluation (the base's tta_model): tools/test.py CONFIG CKPT --tta.
_base_ = [
    '../_base_/methods/diga_warmup_deeplabv2-proda_r101.py',
    '../_base_/datasets/diga_gta5_to_cityscapes_512x896.py'
]
