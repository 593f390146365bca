# UPLR on GTA5 -> Cityscapes (DeepLabV2-ResNet-101), each stage through mmseg's own
# tools/train.py, from a trained GTA5 source model:
#   python tools/run_stages.py configs/uplr/stages_gta5.py --work-dir work_dirs/uplr/gta5 \
#       --seed 0 --cfg-options aa:load_from=<GTA5 source checkpoint>
# 1. aa: the adversarial stage (AdvEnt + FDA + soft-balance sampling + TGAA), 120k iterations;
#    I^c, S_k and the sampling weights are computed with the current model at its start (split
#    it into several stages to recompute them per sampling stage, as in stages_toy.py's note).
# 2. st: three self-training rounds of 5k iterations on GMM pseudo-labels (UPST) from the last
#    stage-1 checkpoint; I^c, S_k and the mixtures are recomputed every round.
data_root = 'data'
stages = [
    dict(name='aa', load_from=None,
         config='uplr-s1-aa_deeplabv2_r101_1xb1-120k_gta5-to-cityscapes-512x512.py'),
    dict(name='st', config='uplr-s2-st_deeplabv2_r101_1xb4-3x5k_gta5-to-cityscapes-512x512.py'),
]
