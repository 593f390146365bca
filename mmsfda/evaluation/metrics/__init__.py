from . import subset_iou_metric  # noqa: F401
from . import calibration_metric  # noqa: F401
