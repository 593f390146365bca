"""Locate and run mmseg's own command-line tools (installed under ``mmseg/.mim/tools``)."""
import os.path as osp
import runpy
import sys
from typing import List


def mmseg_tool_path(name: str) -> str:
    """Path of mmseg's ``tools/<name>``, e.g. ``mmseg_tool_path('train.py')``."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmseg tool not found: {path} (is mmsegmentation 1.2.2 installed?)')
    return path


def writes_prediction_files(metric_type) -> bool:
    """Whether a ``test_evaluator`` entry's ``type`` (a name or a class) is mmseg's ``IoUMetric``
    or a subclass (ours, a user's), the metric that writes prediction files given ``output_dir``."""
    import mmsfda  # noqa: F401  (registers our metrics)
    from mmseg.evaluation import IoUMetric
    from mmseg.registry import METRICS
    cls = METRICS.get(metric_type) if isinstance(metric_type, str) else metric_type
    return isinstance(cls, type) and issubclass(cls, IoUMetric)


def translate_test_out(argv: List[str]) -> List[str]:
    """mmseg's ``test.py --out DIR`` for a config whose ``test_evaluator`` is a list of metrics.

    mmseg's tool sets ``cfg.test_evaluator['output_dir'] = DIR``, which fails on a list (ours:
    IoU, then calibration). For such a config, ``--out DIR`` becomes ``--cfg-options
    test_evaluator.<i>.output_dir=DIR test_evaluator.<i>.keep_results=True`` for the IoU metric
    ``i`` (one prediction PNG per test image in DIR, as ``--out`` gives for a single metric). Any
    other argv is returned unchanged.

    Args:
        argv (list[str]): ``sys.argv`` of ``tools/test.py`` (config first, then checkpoint).

    Returns:
        list[str]: the argv to hand to mmseg's tool.
    """
    out_flags = [i for i, a in enumerate(argv) if a == '--out' or a.startswith('--out=')]
    if not out_flags or len(argv) < 2:
        return argv
    from mmengine.config import Config
    evaluator = Config.fromfile(argv[1]).get('test_evaluator')
    if not isinstance(evaluator, (list, tuple)):
        return argv
    index = next((i for i, m in enumerate(evaluator) if writes_prediction_files(m.get('type'))),
                 None)
    if index is None:
        raise ValueError(f'{argv[1]}: --out needs an IoU metric in test_evaluator to write the '
                         f'predictions, found {[m.get("type") for m in evaluator]}')
    i = out_flags[-1]
    if argv[i] == '--out':
        if i + 1 >= len(argv):
            raise ValueError('--out needs a directory')
        out, rest = argv[i + 1], argv[:i] + argv[i + 2:]
    else:
        out, rest = argv[i].split('=', 1)[1], argv[:i] + argv[i + 1:]
    options = [f'test_evaluator.{index}.output_dir={out}',
               f'test_evaluator.{index}.keep_results=True']
    if '--cfg-options' in rest:  # one option list: a second --cfg-options would replace the first
        j = rest.index('--cfg-options') + 1
        return rest[:j] + options + rest[j:]
    return rest + ['--cfg-options'] + options


def run_mmseg_tool(name: str) -> None:
    """Run mmseg's tool ``name`` in this process with ``sys.argv``, mmsfda imported first.

    ``test.py --out DIR`` also works for our configs' list of metrics (:func:`translate_test_out`).
    A multi-process run (``tools/dist_train.sh``, ``tools/dist_test.sh``) that finishes leaves
    through :func:`mmsfda.compat.exit_finished_distributed_run` (compat item 9).
    """
    import mmsfda  # noqa: F401  (registers modules, patches checkpoint loading)
    path = mmseg_tool_path(name)
    if name == 'test.py':
        sys.argv[:] = translate_test_out(sys.argv)
    sys.argv[0] = path
    runpy.run_path(path, run_name='__main__')
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():  # a finished torchrun process
        from mmsfda.compat import exit_finished_distributed_run
        exit_finished_distributed_run()
