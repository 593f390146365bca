from . import deeplabv2_head, ece_value_head  # noqa: F401
