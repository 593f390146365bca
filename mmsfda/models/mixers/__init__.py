from . import class_mix, strong_augment  # noqa: F401
from . import cross_domain_mixture  # noqa: F401
