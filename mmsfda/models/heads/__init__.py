from . import daformer_head, deeplabv2_head, ece_value_head, fc_discriminator  # noqa: F401
from . import class_prototypes, proda_head  # noqa: F401
from . import projection_head, prototype_estimator  # noqa: F401
from . import class_feature_memory, class_performance_tracker, pixel_projection_head  # noqa: F401
