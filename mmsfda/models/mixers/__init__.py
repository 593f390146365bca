from . import class_mix, strong_augment  # noqa: F401
