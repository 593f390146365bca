from . import self_training_segmentor  # noqa: F401
