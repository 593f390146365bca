from .fda import FDA, fda_swap, fda_swap_numpy, low_freq_mask  # noqa: F401
from .patch_masking import PatchMasking  # noqa: F401
from . import photometric_augment, translated_view  # noqa: F401
from .class_balanced_crop import ClassBalancedCrop  # noqa: F401
from .style_augmentor import StyleAugmentor  # noqa: F401
