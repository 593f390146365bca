"""Record every validation and keep the picks of checkpoint-selection rules in a JSON file."""
import json
import math
import os.path as osp
from numbers import Number
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook

from mmseg.registry import HOOKS
from ...utils.atomic import atomic_write
from ..checkpoint_selection import (Record, Rule, check_compare, check_rule, has_checkpoint,
                                    summarize)

_CKPT_KEY = 'checkpoint_selection'
DEFAULT_RULES = ('min_ece', 'max_miou', 'min_ece_within_miou')


def _scalar(value) -> Optional[float]:
    """A scalar metric as a Python float (for JSON and ``weights_only`` loading), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Number):
        return float(value)
    item = getattr(value, 'item', None)  # one-element tensors and numpy arrays
    if callable(item):
        try:
            value = item()
        except (ValueError, RuntimeError):
            return None
        if isinstance(value, Number) and not isinstance(value, bool):
            return float(value)
    return None


@HOOKS.register_module()
class CheckpointSelectionHook(Hook):
    """Keep one record per validation and write the checkpoint each rule picks to a JSON file.

    Cal-SFDA selects the source checkpoint by its source-val ECE and the target one by
    the value net's estimated ECE (arXiv:2308.03003); this hook records what every rule of
    :mod:`mmsfda.engine.checkpoint_selection` would choose, so that label-free and oracle choices
    can be compared on the same run::

        # source stage: val_evaluator has IoUMetric and CalibrationMetric
        custom_hooks = [dict(type='CheckpointSelectionHook')]
        # target stage: val_evaluator has IoUMetric (oracle) and EstimatedECEMetric
        custom_hooks = [dict(type='CheckpointSelectionHook',
                             rules=['min_est_ece', 'max_miou'],
                             compare=('min_est_ece', 'max_miou', 'mIoU'),
                             correlate=[('EstECE', 'ClassECE'), ('EstECE', 'mIoU')])]

    After each validation (``after_val_epoch``) it appends ``dict(iter=runner.iter,
    metrics={name: value as logged}, checkpoint=path or None)`` and rewrites
    ``<work_dir>/<out_file>`` atomically with :func:`summarize`'s output, then logs the picks.
    ``checkpoint`` is the file the runner's ``CheckpointHook`` saved for this step
    (``<out_dir>/iter_<iter>.pth`` by default; ``CheckpointHook`` saves in ``after_train_iter``,
    before the validation), None if it did not save one (intervals that differ). Picks consider
    only records whose file still exists: with ``max_keep_ckpts`` the removed checkpoints drop
    out, so set ``max_keep_ckpts=-1`` (or a large value) for a selection over the whole run.
    ``tools/analysis/select_checkpoint.py`` reads the file.

    Resume: the records go into every checkpoint (``checkpoint['checkpoint_selection']``) and
    come back when the run is resumed (not on ``load_from``: a source model's records are not
    this run's). A checkpoint is saved before the validation of its own iteration, so that record
    is taken from the JSON file in ``work_dir`` if it is there (records up to the checkpoint's
    iteration only).

    Args:
        rules (Sequence[str | dict]): Rules or preset names, see
            :mod:`mmsfda.engine.checkpoint_selection`. Defaults to ``('min_ece', 'max_miou',
            'min_ece_within_miou')`` (source stage). A rule whose metric is not logged gets no
            pick and a warning, not an error.
        out_file (str): File name in ``work_dir`` (or an absolute path). Defaults to
            'checkpoint_selection.json'.
        compare (tuple, optional): ``(label_free_rule, oracle_rule, key)``; the JSON then holds
            ``comparison['gap']`` = key of the oracle pick - key of the label-free pick.
        correlate (Sequence[tuple], optional): Metric pairs whose Spearman correlation over the
            records is written, e.g. ``[('EstECE', 'ClassECE')]``.
        require_checkpoint (bool): Only records with an existing checkpoint file can be picked.
            Defaults to True.
    """

    priority = 'VERY_LOW'  # as CheckpointHook, registered after it: runs after it

    def __init__(self,
                 rules: Sequence[Union[str, Rule]] = DEFAULT_RULES,
                 out_file: str = 'checkpoint_selection.json',
                 compare: Optional[Tuple[str, str, str]] = None,
                 correlate: Optional[Sequence[Tuple[str, str]]] = None,
                 require_checkpoint: bool = True):
        self.rules = [check_rule(r) for r in rules]
        names = [r['name'] for r in self.rules]
        if not names or len(set(names)) != len(names):
            raise ValueError(f'rules must be non-empty with distinct names, got {names}')
        self.compare = check_compare(compare, names)
        self.correlate = None
        if correlate is not None:
            self.correlate = [tuple(pair) for pair in correlate]
            if not all(len(p) == 2 and all(isinstance(k, str) for k in p)
                       for p in self.correlate):
                raise ValueError(f'correlate must be metric name pairs, got {correlate!r}')
        self.out_file = out_file
        self.require_checkpoint = require_checkpoint
        self.records: List[Record] = []
        self._warned = set()

    def out_path(self, runner) -> str:
        return osp.join(runner.work_dir, self.out_file)

    @staticmethod
    def checkpoint_path(runner) -> Optional[str]:
        """The checkpoint saved for the current step, if the file exists."""
        hook = next((h for h in getattr(runner, 'hooks', []) if isinstance(h, CheckpointHook)),
                    None)
        out_dir, tmpl, step = runner.work_dir, 'iter_{}.pth', runner.iter
        if hook is not None:
            out_dir = getattr(hook, 'out_dir', None) or runner.work_dir
            tmpl = getattr(hook, 'filename_tmpl', None) or tmpl
            if getattr(hook, 'by_epoch', False):
                step = runner.epoch  # epoch_<n>.pth, saved before the validation of epoch n
        path = osp.join(out_dir, tmpl.format(step))
        return path if osp.isfile(path) else None

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        values = {k: _scalar(v) for k, v in (metrics or {}).items()}
        record = dict(iter=int(runner.iter),
                      # NaN (e.g. ECE without a valid pixel) is stored as None: valid JSON
                      metrics={k: v if math.isfinite(v) else None
                               for k, v in values.items() if v is not None},
                      checkpoint=self.checkpoint_path(runner))
        # one record per iteration: a repeated validation replaces the earlier one
        self.records = [r for r in self.records if r['iter'] != record['iter']] + [record]
        summary = self.summary()
        if is_main_process():
            atomic_write(self.out_path(runner), json.dumps(summary, indent=1))
        self._log(runner, summary)

    def summary(self) -> dict:
        """:func:`summarize` of the records with this hook's rules (non-strict)."""
        return summarize(self.records, self.rules, compare=self.compare,
                         correlate=self.correlate, require_checkpoint=self.require_checkpoint,
                         strict=False)

    def _log(self, runner, summary: dict) -> None:
        for name, message in summary['errors'].items():
            if name not in self._warned:
                self._warned.add(name)
                runner.logger.warning(f'{type(self).__name__}: {message}')
        if self.require_checkpoint and 'gone' not in self._warned and any(
                r['checkpoint'] and not has_checkpoint(r) for r in self.records):
            self._warned.add('gone')
            runner.logger.warning(f'{type(self).__name__}: some recorded checkpoints were '
                                  'removed (CheckpointHook max_keep_ckpts?); they cannot be '
                                  'picked')
        lines = [f'checkpoint selection after iter {runner.iter} '
                 f'({len(self.records)} validations):']
        for rule in summary['rules']:
            if rule['name'] in summary['errors']:
                continue
            lines.append(f"  {rule['name']}: {_describe(summary['picks'][rule['name']], rule)}")
        comparison = summary.get('comparison')
        if comparison is not None and comparison['gap'] is not None:
            lines.append(f"  {comparison['key']} gap {comparison['oracle']} - "
                         f"{comparison['label_free']}: {comparison['gap']:.4g}")
        for corr in summary.get('correlations', []):
            rho = '-' if corr['spearman'] is None else f"{corr['spearman']:+.3f}"
            lines.append(f"  spearman({corr['x']}, {corr['y']}) = {rho} over {corr['n']}")
        runner.logger.info('\n'.join(lines))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_CKPT_KEY] = [dict(r, metrics=dict(r['metrics'])) for r in self.records]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from: e.g. a source model, whose records belong to the source run
        records = [dict(r) for r in checkpoint.get(_CKPT_KEY, [])]
        ckpt_iter = checkpoint.get('meta', {}).get('iter')
        path = self.out_path(runner)
        if ckpt_iter is not None and osp.isfile(path):
            try:
                with open(path) as f:
                    written = json.load(f).get('records', [])
            except (OSError, ValueError, AttributeError):
                written = []
            have = {r['iter'] for r in records}
            # the validation right after the save is in the file, not in the checkpoint
            records += [r for r in written
                        if isinstance(r, dict) and isinstance(r.get('iter'), int)
                        and r['iter'] <= ckpt_iter and r['iter'] not in have]
        self.records = sorted(records, key=lambda r: r['iter'])


def _describe(record: Optional[Record], rule: Rule) -> str:
    if record is None:
        return 'none eligible'
    keys = [rule['key']] + ([rule['within']['key']] if rule.get('within') else [])
    values = ', '.join(f"{k} {record['metrics'][k]:.4g}" for k in keys)
    where = record['checkpoint'] or 'no checkpoint'
    return f"iter {record['iter']} ({values}) {where}"
