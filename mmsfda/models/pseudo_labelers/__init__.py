from .pseudo_labels import IGNORE_INDEX, PseudoLabels  # noqa: F401
from . import base_pseudo_labeler, class_balanced_labeler, threshold_labeler  # noqa: F401,E402
from . import ece_guided_labeler  # noqa: F401,E402
from . import gmm_labeler  # noqa: F401,E402
from .stats import pseudo_label_stats  # noqa: F401,E402
from . import prototype_consensus_selector  # noqa: F401,E402
