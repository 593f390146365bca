# Cal-SFDA stage 2 with the public code's value net (ablation of the default): it reads the backbone
# features only (ECEValueHead use_decoder=False). Stage 3 from it:
# calsfda-s3-adapt-backbone-only_*.py.
#   --cfg-options load_from=<stage-1 checkpoint>
_base_ = ['./calsfda-s2-value_deeplabv2_r18-tiny_1xb4-300_toy-source-128x256.py']
model = dict(value_head=dict(use_decoder=False))
