"""Locate and run mmseg's own command-line tools (installed under ``mmseg/.mim/tools``)."""
import os.path as osp
import runpy
import sys


def mmseg_tool_path(name: str) -> str:
    """Path of mmseg's ``tools/<name>``, e.g. ``mmseg_tool_path('train.py')``."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmseg tool not found: {path} (is mmsegmentation 1.2.2 installed?)')
    return path


def run_mmseg_tool(name: str) -> None:
    """Run mmseg's tool ``name`` in this process with ``sys.argv``, mmsfda imported first.

    A multi-process run (``tools/dist_train.sh``, ``tools/dist_test.sh``) that finishes leaves
    through :func:`mmsfda.compat.exit_finished_distributed_run` (compat item 9).
    """
    import mmsfda  # noqa: F401  (registers modules, patches checkpoint loading)
    path = mmseg_tool_path(name)
    sys.argv[0] = path
    runpy.run_path(path, run_name='__main__')
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():  # a finished torchrun process
        from mmsfda.compat import exit_finished_distributed_run
        exit_finished_distributed_run()
