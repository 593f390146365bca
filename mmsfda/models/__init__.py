from . import (augmentations, backbones, data_preprocessors, heads, losses, mixers,  # noqa: F401
               pseudo_labelers, segmentors, translators, wrappers)
