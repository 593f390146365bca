# The toy T2S-DA DG config (./t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py) with the
# learned style-augmentation view (StyleAugmentor) in place of the photometric stand-in. Toy-sized
# and WITHOUT weights (../_base_/models/style_augmentor-tiny.py: seeded random networks): a smoke
# test of the option that needs no files, not a result of the paper's view.
# Run: tools/train.py CONFIG --cfg-options load_from=<source checkpoint>
_base_ = [
    './t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py',
    '../_base_/models/style_augmentor-tiny.py'
]
model = dict(pseudo_target=dict(_base_.style_augmentor_view, _delete_=True))
