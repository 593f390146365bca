from . import subset_iou_metric  # noqa: F401
from . import calibration_metric  # noqa: F401
from .estimated_ece_metric import EstimatedECEMetric  # noqa: F401
