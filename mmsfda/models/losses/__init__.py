from . import differentiable_ece_loss  # noqa: F401
from . import entropy_loss, information_maximization_loss, pseudo_label_ce_loss  # noqa: F401
from . import negative_learning_loss, robust_entropy_loss, symmetric_ce_loss  # noqa: F401
