from . import differentiable_ece_loss, feature_distance_loss, gan_loss  # noqa: F401
from . import entropy_loss, information_maximization_loss, pseudo_label_ce_loss  # noqa: F401
from . import negative_learning_loss, robust_entropy_loss, symmetric_ce_loss  # noqa: F401
from . import symmetric_kd_loss  # noqa: F401
from . import curriculum_entropy_loss, prototype_contrast_loss, soft_target_kl_loss  # noqa: F401
from . import rectified_adversarial_loss  # noqa: F401
from . import t2s_contrastive_loss  # noqa: F401
from . import semantic_edge_loss, vgg_perceptual_loss  # noqa: F401
