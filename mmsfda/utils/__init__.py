from .mmseg_tools import mmseg_tool_path, run_mmseg_tool  # noqa: F401
from .atomic import atomic_write  # noqa: F401
