from . import checked_loading  # noqa: F401
from . import load_pseudo_labels, pack_seg_inputs_with_weights, pseudo_label_margins  # noqa: F401
from . import load_source_predictions, pack_seg_inputs_with_source_predictions  # noqa: F401
