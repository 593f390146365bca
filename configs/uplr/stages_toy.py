# UPLR on the toy benchmark, each stage through mmseg's own tools/train.py:
#   python tools/run_stages.py configs/uplr/stages_toy.py --work-dir work_dirs/uplr/toy --seed 0
# 1. source: source-only training (the toy source model every toy baseline starts from).
# 2. aa: the adversarial stage (AA: AdvEnt + FDA + soft-balance sampling + TGAA), 300 iterations;
#    I^c, S_k and the sampling weights are computed with the current model at its start. UPLR
#    recomputes them per sampling stage: split it into several stages (each with its own
#    cfg_options, e.g. train_cfg.max_iters) to resample as the poster's Fig. 6 does.
# 3. st: self-training rounds on GMM pseudo-labels (UPST), I^c, S_k and mixtures per round.
data_root = 'data/toy'
stages = [
    dict(name='source', config='../source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'),
    dict(name='aa', config='uplr-s1-aa_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    dict(name='st', config='uplr-s2-st_deeplabv2_r18-tiny_1xb4-2x200_toy-target-128x256.py'),
]
