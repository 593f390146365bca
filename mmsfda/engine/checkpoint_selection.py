"""Checkpoint selection from validation records: lowest ECE, highest mIoU or a trade-off.

Cal-SFDA picks the source checkpoint by its source-validation ECE rather than its mIoU
and the target checkpoint by the value net's estimated ECE, without target labels (arXiv:2308.03003;
configs/calsfda/README.md).
These are pure functions over *records*, one per validation::

    Record = dict(iter=int, metrics=dict[str, float], checkpoint=str | None)

written by :class:`~mmsfda.engine.hooks.CheckpointSelectionHook` and read back by
``tools/analysis/select_checkpoint.py``. A *rule* is a dict::

    dict(name='min_ece', key='ECE', mode='min')
    dict(name='max_miou', key='mIoU', mode='max')
    dict(name='min_ece_within_miou', key='ECE', mode='min', within=dict(key='mIoU', margin=1.0))

``within`` first keeps the eligible records whose ``within['key']`` is at most ``margin`` from the
best eligible value (``within['mode']``, default 'max': ``value >= best - margin``; 'min':
``value <= best + margin``), in the key's own units (mIoU is a percentage in mmseg, ECE a
fraction), then applies ``key`` / ``mode`` to them. A name from :data:`PRESET_RULES` may stand for
its rule.
"""
import copy
import math
import os.path as osp
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

Record = Dict[str, Any]
Rule = Dict[str, Any]

FORMAT = 'mmsfda.checkpoint_selection/1'
_MODES = ('min', 'max')

PRESET_RULES: Dict[str, Rule] = {
    # source side (Cal-SFDA), metrics of IoUMetric and CalibrationMetric on source-val
    'min_ece': dict(name='min_ece', key='ECE', mode='min'),
    'max_miou': dict(name='max_miou', key='mIoU', mode='max'),
    'min_ece_within_miou': dict(name='min_ece_within_miou', key='ECE', mode='min',
                                within=dict(key='mIoU', margin=1.0)),
    # target side (Cal-SFDA), label-free: EstimatedECEMetric's value-net estimate
    'min_est_ece': dict(name='min_est_ece', key='EstECE', mode='min'),
}


def check_rule(rule: Union[str, Rule]) -> Rule:
    """Validate a rule (or look up a preset name) and return a normalised copy.

    Raises:
        ValueError: Unknown preset, missing ``name`` / ``key``, bad ``mode`` or ``within``.
    """
    if isinstance(rule, str):
        if rule not in PRESET_RULES:
            raise ValueError(f'unknown rule {rule!r}; presets are {sorted(PRESET_RULES)}, or give '
                             "a dict(name=..., key=..., mode='min'|'max')")
        rule = PRESET_RULES[rule]
    if not isinstance(rule, dict):
        raise ValueError(f'a rule must be a dict or a preset name, got {rule!r}')
    rule = copy.deepcopy(dict(rule))
    for field in ('name', 'key'):
        if not isinstance(rule.get(field), str) or not rule[field]:
            raise ValueError(f'rule {rule!r} needs a non-empty string {field!r}')
    rule.setdefault('mode', 'min')
    if rule['mode'] not in _MODES:
        raise ValueError(f"rule {rule['name']!r}: mode must be one of {_MODES}, got "
                         f"{rule['mode']!r}")
    within = rule.get('within')
    if within is not None:
        if not isinstance(within, dict) or not isinstance(within.get('key'), str):
            raise ValueError(f"rule {rule['name']!r}: within must be dict(key=..., margin=...), "
                             f'got {within!r}')
        within = dict(within)
        within.setdefault('mode', 'max')
        within.setdefault('margin', 0.0)
        if within['mode'] not in _MODES:
            raise ValueError(f"rule {rule['name']!r}: within mode must be one of {_MODES}, got "
                             f"{within['mode']!r}")
        if not (isinstance(within['margin'], Number) and within['margin'] >= 0):
            raise ValueError(f"rule {rule['name']!r}: within margin must be a number >= 0, got "
                             f"{within['margin']!r}")
        rule['within'] = within
    unknown = set(rule) - {'name', 'key', 'mode', 'within'}
    if unknown:
        raise ValueError(f"rule {rule['name']!r}: unknown fields {sorted(unknown)}")
    return rule


def _value(record: Record, key: str) -> Optional[float]:
    """The record's finite metric ``key``, or None (absent, None or NaN: not eligible)."""
    v = record.get('metrics', {}).get(key)
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def has_checkpoint(record: Record) -> bool:
    """Whether the record's checkpoint file exists now (max_keep_ckpts may have removed it)."""
    path = record.get('checkpoint')
    return bool(path) and osp.isfile(path)


def available_keys(records: Sequence[Record]) -> List[str]:
    """Sorted union of the metric names of the records."""
    return sorted({k for r in records for k in r.get('metrics', {})})


def select(records: Sequence[Record],
           rule: Union[str, Rule],
           require_checkpoint: bool = True) -> Optional[Record]:
    """The record chosen by ``rule``.

    Eligible records have a finite value of every metric the rule reads and, if
    ``require_checkpoint``, an existing checkpoint file. With ``within``, the margin is measured
    from the best *eligible* value. Ties go to the earliest iteration.

    Args:
        records (Sequence[Record]): Validation records.
        rule (str | dict): A rule or a preset name, see the module docstring.
        require_checkpoint (bool): Only records whose checkpoint file exists. Defaults to True.

    Returns:
        Record | None: The chosen record (the same object), or None if none is eligible.

    Raises:
        ValueError: A metric the rule reads is in no record (names the metric and those
            available), or the rule is invalid.
    """
    rule = check_rule(rule)
    if not records:
        return None
    within = rule.get('within')
    keys = [rule['key']] + ([within['key']] if within else [])
    for key in keys:
        if not any(key in r.get('metrics', {}) for r in records):
            raise ValueError(f"rule {rule['name']!r} needs the metric {key!r}, which no record "
                             f'has; metrics available: {available_keys(records)}')

    candidates = [r for r in records
                  if all(_value(r, k) is not None for k in keys)
                  and (not require_checkpoint or has_checkpoint(r))]
    if within and candidates:
        values = [_value(r, within['key']) for r in candidates]
        if within['mode'] == 'max':
            bound = max(values) - within['margin']
            candidates = [r for r, v in zip(candidates, values) if v >= bound]
        else:
            bound = min(values) + within['margin']
            candidates = [r for r, v in zip(candidates, values) if v <= bound]
    if not candidates:
        return None
    sign = 1.0 if rule['mode'] == 'min' else -1.0
    return min(candidates, key=lambda r: (sign * _value(r, rule['key']), r['iter']))


def spearman(x: Sequence[Optional[float]], y: Sequence[Optional[float]]) -> Optional[float]:
    """Spearman rank correlation: Pearson correlation of the average ranks (ties averaged).

    Pairs where either value is None or NaN are dropped.

    Returns:
        float | None: In [-1, 1]; None if fewer than 2 pairs remain or either side is constant
        (the correlation is undefined; None keeps the JSON valid).
    """
    if len(x) != len(y):
        raise ValueError(f'x and y differ in length: {len(x)} vs {len(y)}')
    pairs = [(float(a), float(b)) for a, b in zip(x, y)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 2:
        return None
    xs, ys = zip(*pairs)
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr  # average ranks for ties, as the definition
    return max(-1.0, min(1.0, float(spearmanr(xs, ys).statistic)))


def summarize(records: Sequence[Record],
              rules: Sequence[Union[str, Rule]],
              compare: Optional[Tuple[str, str, str]] = None,
              correlate: Optional[Sequence[Tuple[str, str]]] = None,
              require_checkpoint: bool = True,
              strict: bool = True) -> dict:
    """The picks of several rules, optionally compared and with metric correlations.

    Args:
        records (Sequence[Record]): Validation records.
        rules (Sequence[str | dict]): Rules (or preset names) with distinct names.
        compare (tuple, optional): ``(label_free_rule, oracle_rule, key)``, e.g.
            ``('min_est_ece', 'max_miou', 'mIoU')``: what choosing without labels costs.
        correlate (Sequence[tuple], optional): Metric pairs, e.g. ``[('EstECE', 'ClassECE')]``,
            whose Spearman correlation over the records is reported.
        require_checkpoint (bool): See :func:`select`. Defaults to True.
        strict (bool): Raise if a rule's metric is in no record; else its pick is None and the
            message goes to ``errors``. Defaults to True.

    Returns:
        dict: JSON-serialisable ``format``, ``rules`` (normalised), ``records`` (sorted by
        iteration), ``picks`` ({rule name: record or None}), ``errors`` ({rule name: message},
        non-strict only), with ``compare``: ``comparison = dict(label_free, oracle, key,
        label_free_value, oracle_value, gap)`` where ``gap = oracle_value - label_free_value``
        (None if a pick or value is missing), with ``correlate``: ``correlations``, a list of
        ``dict(x, y, spearman, n)`` (``n`` pairs with both values).
    """
    rules = [check_rule(r) for r in rules]
    names = [r['name'] for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f'rule names must be distinct, got {names}')
    records = sorted((copy.deepcopy(dict(r)) for r in records), key=lambda r: r['iter'])
    picks, errors = {}, {}
    for rule in rules:
        try:
            picks[rule['name']] = select(records, rule, require_checkpoint)
        except ValueError as e:
            if strict:
                raise
            picks[rule['name']], errors[rule['name']] = None, str(e)
    out = dict(format=FORMAT, rules=rules, require_checkpoint=require_checkpoint,
               records=records, picks=picks)
    if not strict:
        out['errors'] = errors
    compare = check_compare(compare, names)
    if compare is not None:
        out['comparison'] = _compare(picks, compare)
    if correlate is not None:
        out['correlations'] = []
        for x_key, y_key in correlate:
            xs = [_value(r, x_key) for r in records]
            ys = [_value(r, y_key) for r in records]
            n = sum(a is not None and b is not None for a, b in zip(xs, ys))
            out['correlations'].append(dict(x=x_key, y=y_key, spearman=spearman(xs, ys), n=n))
    return out


def _compare(picks: Dict[str, Optional[Record]], compare: Tuple[str, str, str]) -> dict:
    label_free, oracle, key = compare
    lf_value = _value(picks[label_free], key) if picks[label_free] else None
    or_value = _value(picks[oracle], key) if picks[oracle] else None
    gap = None if lf_value is None or or_value is None else or_value - lf_value
    return dict(label_free=label_free, oracle=oracle, key=key, label_free_value=lf_value,
                oracle_value=or_value, gap=gap)


def check_compare(compare, rule_names: Sequence[str]) -> Optional[Tuple[str, str, str]]:
    """Validate ``(label_free_rule, oracle_rule, key)`` against the rule names (None passes)."""
    if compare is None:
        return None
    if not (isinstance(compare, (list, tuple)) and len(compare) == 3
            and all(isinstance(c, str) for c in compare)):
        raise ValueError(f'compare must be (label_free_rule, oracle_rule, key), got {compare!r}')
    for name in compare[:2]:
        if name not in rule_names:
            raise ValueError(f'compare names the rule {name!r}, which is not among the rules '
                             f'{list(rule_names)}')
    return tuple(compare)
