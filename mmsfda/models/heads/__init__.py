from . import deeplabv2_head  # noqa: F401
