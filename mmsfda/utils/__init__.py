from .mmseg_tools import mmseg_tool_path, run_mmseg_tool  # noqa: F401
