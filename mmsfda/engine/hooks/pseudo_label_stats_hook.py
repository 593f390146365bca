"""Log per-class pseudo-label coverage and accuracy during self-training."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor

from mmseg.registry import HOOKS

ATTR = 'pseudo_label_stats'


@HOOKS.register_module()
class PseudoLabelStatsHook(Hook):
    """Log the pseudo-label statistics of the logging iterations (every ``interval`` and the last).

    Before a logging iteration the hook sets ``model.record_pseudo_label_stats``; the segmentor
    then stores the output of :func:`mmsfda.models.pseudo_labelers.stats.pseudo_label_stats` (a
    dict of float64 count tensors: ``pixels`` scalar, ``labelled`` / ``weight`` (C,), optionally
    ``predicted`` and ``evaluated`` / ``correct`` (C,)) as ``model.pseudo_label_stats`` in
    ``loss()`` (other iterations compute nothing); a dict under the same key in the train step's
    ``outputs`` is read too. The hook takes it (empties the attribute), sums it over ranks, then:

    * ``message_hub.update_scalar('train/pl_coverage', %)`` (labelled pixels / all pixels),
      ``'train/pl_accuracy'`` (correct / labelled pixels with known ground truth, if any) and
      ``'train/pl_weight'`` (mean weight of the labelled pixels), shown in the log line;
    * ``message_hub.update_info('pl_stats', {...})``: the per-class percentages as lists;
    * a compact per-class table in the log: ``share`` = % of all pixels labelled as the class,
      ``kept`` = % of the teacher's predictions of the class that became labels, ``acc`` = % of
      the class's labels that are correct.

    Args:
        interval (int): Log every ``interval`` iterations (and at the last one). Defaults to 50.
        classes (Sequence[str], optional): Class names for the table. Defaults to the train
            dataset's ``metainfo['classes']`` (indices if unavailable).
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), so the scalars are in its line

    def __init__(self, interval: int = 50, classes: Optional[Sequence[str]] = None):
        if not (isinstance(interval, int) and interval > 0):
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        self.interval = interval
        self.classes = None if classes is None else list(classes)
        self._sums: Dict[str, Tensor] = {}

    def before_train(self, runner) -> None:
        if self.classes is None:
            try:
                self.classes = list(runner.train_dataloader.dataset.metainfo['classes'])
            except (AttributeError, KeyError, TypeError):
                self.classes = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        # Statistics cost a few bincounts per step: only the logging iterations compute them.
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if hasattr(model, 'record_pseudo_label_stats'):
            model.record_pseudo_label_stats = (self.every_n_train_iters(runner, self.interval)
                                               or self.is_last_train_iter(runner))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        stats = getattr(model, ATTR, None)
        if stats:
            setattr(model, ATTR, {})
        elif isinstance(outputs, dict) and isinstance(outputs.get(ATTR), dict):
            stats = outputs[ATTR]
        if stats:  # None or {}: no pseudo-labels this iteration
            for k, v in stats.items():
                v = v.detach().double()
                self._sums[k] = self._sums[k] + v if k in self._sums else v.clone()
        if self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner):
            self._log(runner)

    def _log(self, runner) -> None:
        if not self._sums:
            return
        sums = {k: v for k, v in sorted(self._sums.items())}  # same order on every rank
        self._sums = {}
        for v in sums.values():
            all_reduce(v, op='sum')
        sums = {k: v.cpu() for k, v in sums.items()}
        per_class = summarize(sums)
        hub = runner.message_hub
        labelled = sums['labelled'].sum()
        hub.update_scalar('train/pl_coverage', float(100 * labelled / sums['pixels']))
        if labelled > 0:
            hub.update_scalar('train/pl_weight', float(sums['weight'].sum() / labelled))
        if 'evaluated' in sums and sums['evaluated'].sum() > 0:
            hub.update_scalar('train/pl_accuracy',
                              float(100 * sums['correct'].sum() / sums['evaluated'].sum()))
        hub.update_info('pl_stats', {k: v.tolist() for k, v in per_class.items()})
        runner.logger.info(f'pseudo-labels per class, iteration {runner.iter + 1} (%):\n'
                           + format_table(per_class, self.classes))


def summarize(sums: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Per-class percentages (NaN where undefined) from summed counts.

    Returns:
        dict[str, Tensor]: ``share`` (C,), and ``kept`` (C,) with ``predicted``, ``acc`` (C,) with
        ``evaluated`` / ``correct``.
    """
    out = {'share': 100 * sums['labelled'] / sums['pixels']}
    if 'predicted' in sums:
        out['kept'] = 100 * sums['labelled'] / sums['predicted']
    if 'evaluated' in sums:
        out['acc'] = 100 * sums['correct'] / sums['evaluated']
    return {k: torch.where(v.isfinite(), v, torch.full_like(v, float('nan'))) for k, v in
            out.items()}


def format_table(per_class: Dict[str, Tensor], classes: Optional[List[str]] = None,
                 per_line: int = 10) -> str:
    """Rows ``share`` / ``kept`` / ``acc``, one column per class, ``per_line`` columns a block."""
    num = len(next(iter(per_class.values())))
    names = [str(i) for i in range(num)]
    if classes is not None and len(classes) == num:
        names = list(classes)
    lines = []
    for start in range(0, num, per_line):
        cols = range(start, min(start + per_line, num))
        lines.append('class ' + ''.join(f'{names[c][:7]:>8}' for c in cols))
        for row, vals in per_class.items():
            cells = ''.join('       -' if vals[c] != vals[c] else f'{float(vals[c]):8.1f}'
                            for c in cols)
            lines.append(f'{row:<6}' + cells)
    return '\n'.join(lines)
