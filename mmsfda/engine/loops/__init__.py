from .self_training_loop import SelfTrainingLoop  # noqa: F401
from .entropy_split_loop import EntropySplitLoop  # noqa: F401
