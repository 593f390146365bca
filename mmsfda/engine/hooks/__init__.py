from . import bn_stats_warmup_hook, mean_teacher_hook, pseudo_label_stats_hook  # noqa: F401
from . import trainable_schedule_hook  # noqa: F401
from .checkpoint_selection_hook import CheckpointSelectionHook  # noqa: F401
from .random_state_hook import RandomStateHook  # noqa: F401
from .class_uncertainty_hook import ClassUncertaintyHook  # noqa: F401
from . import prototype_init_hook  # noqa: F401
