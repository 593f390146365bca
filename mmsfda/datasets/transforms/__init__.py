from . import checked_loading  # noqa: F401
from . import load_pseudo_labels, pack_seg_inputs_with_weights  # noqa: F401
