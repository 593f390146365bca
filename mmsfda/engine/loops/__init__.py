from .self_training_loop import SelfTrainingLoop  # noqa: F401
