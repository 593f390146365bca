"""Choose a checkpoint of a finished (or running) training from its validation records.

Reads ``WORK_DIR/checkpoint_selection.json``, written by ``CheckpointSelectionHook``, prints one
row per validation and the checkpoint each rule picks (the rules stored in the file plus the
presets of :mod:`mmsfda.engine.checkpoint_selection`)::

    python tools/analysis/select_checkpoint.py work_dirs/calsfda_source
    python tools/analysis/select_checkpoint.py work_dirs/calsfda_source \
        --rule min_ece_within_miou --margin 2
    # the source model of the next stage, chosen by ECE (Cal-SFDA, arXiv:2308.03003)
    CKPT=$(python tools/analysis/select_checkpoint.py work_dirs/calsfda_source \
        --rule min_ece --print-path)

``--rule`` defaults to the first rule of the hook. Checkpoints whose file is gone (removed by
``max_keep_ckpts``) cannot be picked unless ``--include-missing``. If the work directory was
moved, a recorded path that no longer exists is looked up by its file name in ``WORK_DIR``.
"""
import argparse
import json
import os.path as osp
import sys

try:
    import mmsfda  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmsfda  # noqa: F401

from mmsfda.engine.checkpoint_selection import (  # noqa: E402
    PRESET_RULES, check_rule, has_checkpoint, select, summarize)

FILE_NAME = 'checkpoint_selection.json'
_FIRST_KEYS = ('mIoU', 'ECE', 'cwECE', 'EstECE', 'ClassECE')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pick a checkpoint from the records of CheckpointSelectionHook.')
    parser.add_argument('work_dir', help='work directory of the training run')
    parser.add_argument('--rule', default=None,
                        help=f'rule to apply: {", ".join(PRESET_RULES)} or a rule of the hook '
                             '(default: the hook\'s first rule)')
    parser.add_argument('--margin', type=float, default=None,
                        help='mIoU margin of min_ece_within_miou (same units as mIoU, %%; '
                             'default 1.0 or the hook\'s)')
    parser.add_argument('--print-path', action='store_true',
                        help='print only the checkpoint path chosen by --rule')
    parser.add_argument('--include-missing', action='store_true',
                        help='also consider records whose checkpoint file does not exist')
    parser.add_argument('--file', default=FILE_NAME,
                        help=f'records file in WORK_DIR (default {FILE_NAME})')
    return parser.parse_args(argv)


def load_records(work_dir: str, file_name: str = FILE_NAME) -> dict:
    """The JSON written by ``CheckpointSelectionHook``, checkpoint paths resolved to WORK_DIR."""
    path = osp.join(work_dir, file_name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: the training config needs '
            "custom_hooks=[dict(type='CheckpointSelectionHook', ...)] to record its validations")
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('records'), list):
        raise ValueError(f'{path} is not a CheckpointSelectionHook file (no records list)')
    for record in data['records']:
        ckpt = record.get('checkpoint')
        if ckpt and not osp.isfile(ckpt):  # the work directory was moved
            moved = osp.join(work_dir, osp.basename(ckpt))
            if osp.isfile(moved):
                record['checkpoint'] = moved
    return data


def collect_rules(stored, margin=None):
    """The hook's rules, then the presets it does not have; ``margin`` for margin rules."""
    rules, names = [], set()
    for rule in list(stored or []) + [r for r in PRESET_RULES.values()]:
        rule = check_rule(rule)
        if rule['name'] in names:
            continue
        names.add(rule['name'])
        if margin is not None and rule.get('within'):
            rule['within']['margin'] = margin
        rules.append(rule)
    return rules


def format_table(records, picks) -> str:
    keys = sorted({k for r in records for k in r['metrics']},
                  key=lambda k: (_FIRST_KEYS.index(k) if k in _FIRST_KEYS else len(_FIRST_KEYS),
                                 k))
    header = ['iter'] + keys + ['checkpoint', 'picked by']
    rows = []
    for r in records:
        chosen = [name for name, p in picks.items() if p is not None and p['iter'] == r['iter']]
        ckpt = r.get('checkpoint')
        ckpt = '-' if not ckpt else osp.basename(ckpt) + ('' if has_checkpoint(r) else ' (gone)')
        values = [('-' if r['metrics'].get(k) is None else f"{r['metrics'][k]:.4f}")
                  for k in keys]
        rows.append([str(r['iter'])] + values + [ckpt, ', '.join(chosen)])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = ['  '.join(c.rjust(w) if i < len(header) - 2 else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in [header] + rows]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        data = load_records(args.work_dir, args.file)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    records = data['records']
    rules = collect_rules(data.get('rules'), args.margin)
    names = [r['name'] for r in rules]
    rule_name = args.rule or names[0]
    if rule_name not in names:
        print(f'error: unknown rule {rule_name!r}; rules: {", ".join(names)}', file=sys.stderr)
        return 2
    require = not args.include_missing

    if args.print_path:
        try:
            pick = select(records, rules[names.index(rule_name)], require_checkpoint=require)
        except ValueError as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
        if pick is None or not pick.get('checkpoint'):
            print(f'error: rule {rule_name!r} picks no checkpoint (no eligible record with a '
                  'checkpoint file)', file=sys.stderr)
            return 1
        if not has_checkpoint(pick):  # --include-missing picked a removed one
            print(f"error: rule {rule_name!r} picks iter {pick['iter']}, whose checkpoint "
                  f"{pick['checkpoint']} no longer exists", file=sys.stderr)
            return 1
        print(pick['checkpoint'])
        return 0

    summary = summarize(records, rules, require_checkpoint=require, strict=False)
    print(f"{len(records)} validations in {osp.join(args.work_dir, args.file)}")
    if records:
        print(format_table(summary['records'], summary['picks']))
    print('picks:')
    for rule in rules:
        name = rule['name']
        mark = '*' if name == rule_name else ' '
        if name in summary['errors']:
            print(f' {mark} {name}: n/a ({summary["errors"][name]})')
            continue
        pick = summary['picks'][name]
        if pick is None:
            print(f' {mark} {name}: none eligible')
            continue
        keys = [rule['key']] + ([rule['within']['key']] if rule.get('within') else [])
        values = ', '.join(f"{k} {pick['metrics'][k]:.4f}" for k in keys)
        print(f" {mark} {name}: iter {pick['iter']} ({values}) {pick['checkpoint'] or '-'}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
