# Cal-SFDA stage 3 with the public code's value net (ablation of the default): the value net reads
# the backbone features only, and its BN statistics are estimated once on target data, before round
# 0 (not again before every validation). Start it from the stage-2 checkpoint of
# calsfda-s2-value-backbone-only_*.py (a decoder-aware value net is refused):
#   --cfg-options load_from=<stage-2 checkpoint>
# While stage 3 trains the decoder only, this value net sees a change of the model only through the
# BN statistics of the encoder; with frozen BN (DeepLabV2-R101) its estimate does not move at all.
_base_ = ['./calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py']
model = dict(student=dict(value_head=dict(use_decoder=False)))
default_hooks = dict(bn_warmup=dict(reestimate_before_val=None))
