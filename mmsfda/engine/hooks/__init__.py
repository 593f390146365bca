from . import bn_stats_warmup_hook, mean_teacher_hook, pseudo_label_stats_hook  # noqa: F401
from . import trainable_schedule_hook  # noqa: F401
from .checkpoint_selection_hook import CheckpointSelectionHook  # noqa: F401
