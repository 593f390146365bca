from . import (data_preprocessors, heads, losses, mixers, pseudo_labelers,  # noqa: F401
               segmentors)
