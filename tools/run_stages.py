"""Run a multi-stage method (source training, value net, adaptation, ...), each stage through
mmseg's own tools/train.py, each starting from the checkpoint the previous stage chose.

    python tools/run_stages.py configs/calsfda/stages_toy.py --work-dir work_dirs/calsfda/toy \
        --seed 0

The stages file is a small mmengine config (``_base_`` works) with a ``stages`` list and the data
root its configs use::

    data_root = 'data/toy'   # what --data-root replaces in every stage config (default 'data/toy')
    stages = [
        dict(name='source', config='calsfda-s1-....py', select='min_ece_within_miou'),
        dict(name='value', config='calsfda-s2-....py'),
        dict(name='adapt', config='calsfda-s3-....py', select='label_free'),
    ]

A stage is a dict with

* ``name`` (required): letters, digits, ``-`` and ``_``; unique. The stage trains in
  ``<work-dir>/<name>`` and is addressed by it on the command line.
* ``config`` (required): the stage's training config, relative to the stages file's folder (or
  absolute).
* ``select`` (optional): the checkpoint the stage hands on is the pick of this rule in the
  ``checkpoint_selection.json`` that the stage's ``CheckpointSelectionHook`` writes (see
  ``mmsfda/engine/checkpoint_selection.py``). Without it, the stage's last checkpoint.
* ``load_from`` (optional): the name of an earlier stage whose chosen checkpoint initialises this
  one (``load_from`` of the config), or None for none. Default: the previous stage (none for the
  first).
* ``cfg_options`` (optional): ``key=value`` overrides of this stage, as ``--cfg-options``.

Options:

* ``--cfg-options KEY=VALUE`` applies to every stage, ``NAME:KEY=VALUE`` to stage NAME only, e.g.
  ``adapt:train_cfg.rounds=[2,2] default_hooks.logger.interval=1``.
* ``--select NAME=RULE`` replaces a stage's ``select`` rule.
* ``--data-root ROOT`` moves every data root of every stage config (train, val, test, label and
  hook dataloaders, at any depth) from the stages file's ``data_root`` to ROOT.
* ``--seed N`` is every stage's ``randomness.seed``.

Each stage is run by :func:`mmsfda.apis.train_config`: a finished stage (same resolved config,
``load_from`` and data) is skipped, an interrupted one resumes from its last checkpoint; rerun the
same command after an interruption. A summary (per stage: what it started from, the checkpoint it
handed on, each selection rule's pick with its metrics, the label-free vs oracle comparison and the
correlations when the stage's selection hook computed them) is printed and written atomically to
``<work-dir>/summary.json``.

From Python, :func:`run_stages` also takes ``edit``, a callable that changes every stage's parsed
config in place (``train_config``'s ``edit``; ``tools/benchmark/zoo.py --quick`` shortens every
stage with :func:`mmsfda.apis.shorten_schedule` this way). An edit is part of each stage's resolved
config and run key, so a stage finished without it is redone, not reused.
"""
import argparse
import json
import os.path as osp
import re
import sys
from typing import Callable, Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmsfda.apis import train_config  # noqa: E402
from mmsfda.utils.atomic import atomic_write  # noqa: E402

SELECTION_FILE = 'checkpoint_selection.json'
DEFAULT_DATA_ROOT = 'data/toy'
_NAME = re.compile(r'^[A-Za-z0-9_-]+$')
_STAGE_KEYS = {'name', 'config', 'select', 'load_from', 'cfg_options'}
_PREVIOUS = object()  # `load_from` not given: the previous stage


def load_stages(path: str) -> dict:
    """Read and check a stages file.

    Returns:
        dict: ``stages`` (list of dicts with ``name``, ``config`` (an existing absolute path),
        ``select`` (str or None), ``load_from`` (an earlier stage's name or None) and
        ``cfg_options`` (list of str)) and ``data_root``.

    Raises:
        FileNotFoundError: The file or a stage's config does not exist (names both).
        ValueError: A malformed stage (names the file, the stage and the key).
    """
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'stages file not found: {path}')
    cfg = Config.fromfile(path)
    raw = cfg.get('stages')
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError(f'{path}: needs a non-empty list `stages = [dict(name=..., config=...), '
                         f'...]`, got {raw!r}')
    folder = osp.dirname(osp.abspath(path))
    stages: List[dict] = []
    for i, stage in enumerate(raw):
        where = f'{path}: stages[{i}]'
        if not isinstance(stage, dict):
            raise ValueError(f'{where} must be a dict, got {stage!r}')
        unknown = set(stage) - _STAGE_KEYS
        if unknown:
            raise ValueError(f'{where} has unknown keys {sorted(unknown)}; a stage has '
                             f'{sorted(_STAGE_KEYS)}')
        name = stage.get('name')
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f'{where}: name must be letters, digits, "-" or "_", got {name!r}')
        where = f'{path}: stage {name!r}'
        if name in (s['name'] for s in stages):
            raise ValueError(f'{where}: the name is used twice')
        config = stage.get('config')
        if not isinstance(config, str):
            raise ValueError(f'{where}: config must be a path, got {config!r}')
        config = config if osp.isabs(config) else osp.normpath(osp.join(folder, config))
        if not osp.isfile(config):
            raise FileNotFoundError(f'{where}: config {config} does not exist')
        select = stage.get('select')
        if select is not None and not isinstance(select, str):
            raise ValueError(f'{where}: select must be a rule name, got {select!r}')
        load_from = stage.get('load_from', _PREVIOUS)
        if load_from is _PREVIOUS:
            load_from = stages[-1]['name'] if stages else None
        elif load_from is not None and load_from not in (s['name'] for s in stages):
            raise ValueError(f'{where}: load_from must name an earlier stage '
                             f'{[s["name"] for s in stages]} or be None, got {load_from!r}')
        options = list(stage.get('cfg_options') or [])
        bad = [o for o in options if not isinstance(o, str) or '=' not in o]
        if bad:
            raise ValueError(f'{where}: cfg_options must be "key=value" strings, got {bad}')
        stages.append(dict(name=name, config=config, select=select, load_from=load_from,
                           cfg_options=options))
    data_root = cfg.get('data_root', DEFAULT_DATA_ROOT)
    return dict(stages=stages, data_root=data_root)


def split_options(options: Sequence[str], names: Sequence[str]) -> Dict[Optional[str], List[str]]:
    """``['a=1', 'adapt:b=2']`` -> ``{None: ['a=1'], 'adapt': ['b=2']}`` (None: every stage).

    Raises:
        ValueError: An option is not ``[NAME:]key=value`` or names no stage.
    """
    out: Dict[Optional[str], List[str]] = {None: []}
    for option in options:
        key, sep, value = option.partition('=')
        if not sep or not key:
            raise ValueError(f'--cfg-options {option!r} is not [STAGE:]KEY=VALUE')
        stage, colon, key = key.rpartition(':')
        if not colon:
            out[None].append(option)
            continue
        if stage not in names:
            raise ValueError(f'--cfg-options {option!r} names the stage {stage!r}; the stages are '
                             f'{list(names)}')
        out.setdefault(stage, []).append(f'{key}={value}')
    return out


def read_selection(work_dir: str) -> dict:
    """The ``checkpoint_selection.json`` a stage's ``CheckpointSelectionHook`` wrote."""
    path = osp.join(work_dir, SELECTION_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} is missing: the stage config must contain '
                                'CheckpointSelectionHook (and the stage must have validated)')
    with open(path) as f:
        return json.load(f)


def picked_checkpoint(work_dir: str, rule: str) -> str:
    """Path of the checkpoint that ``rule`` picked in ``work_dir``; errors name what is missing."""
    picks = read_selection(work_dir).get('picks', {})
    if rule not in picks:
        raise ValueError(f'rule {rule!r} is not in {osp.join(work_dir, SELECTION_FILE)}; its '
                         f'rules: {sorted(picks)}')
    pick = picks[rule]
    path = pick.get('checkpoint') if pick else None
    if not path or not osp.isfile(path):
        raise FileNotFoundError(f'the checkpoint picked by {rule!r} in {work_dir} is missing '
                                f'({path}): rerun that stage (remove its work directory) or select '
                                'with another rule')
    return path


def _stage_summary(stage: dict, work_dir: str, load_from: Optional[str], checkpoint: str) -> dict:
    out = dict(config=stage['config'], work_dir=work_dir, load_from_stage=stage['load_from'],
               load_from=load_from, select=stage['select'], checkpoint=checkpoint)
    if osp.isfile(osp.join(work_dir, SELECTION_FILE)):
        selection = read_selection(work_dir)
        out['picks'] = {k: v and dict(iter=v['iter'], metrics=v['metrics'],
                                      checkpoint=v.get('checkpoint'))
                        for k, v in selection.get('picks', {}).items()}
        for key in ('comparison', 'correlations'):
            if selection.get(key) is not None:
                out[key] = selection[key]
    return out


def run_stages(stages_file: str, work_dir: str, seed: int = 0, data_root: Optional[str] = None,
               cfg_options: Sequence[str] = (), select: Optional[Dict[str, str]] = None,
               edit: Optional[Callable] = None) -> dict:
    """Train every stage of ``stages_file`` in order; returns the summary (also in summary.json).

    Args:
        stages_file (str): The stages file (see the module docstring).
        work_dir (str): Stage ``NAME`` trains in ``<work_dir>/NAME``.
        seed (int): ``randomness.seed`` of every stage.
        data_root (str, optional): Moves every data root of every stage config from the stages
            file's ``data_root`` to this one.
        cfg_options (Sequence[str]): ``KEY=VALUE`` (every stage) or ``NAME:KEY=VALUE``.
        select (dict, optional): ``{stage name: rule}`` replacing the stages' ``select``.
        edit (callable, optional): Changes every stage's parsed ``Config`` in place after its
            options, data root and ``load_from`` (``train_config``'s ``edit``, e.g.
            ``functools.partial(shorten_schedule, iters=2)`` for a smoke run). What it changes is
            in the stage's resolved config, hence in its run key: a finished stage trained
            without the edit is redone, not reused.

    Raises:
        FileNotFoundError: A checkpoint a stage should start from is missing (names the stage,
            the rule and the file).
        ValueError: Bad options (names the option and the stages).
        RuntimeError: A stage's training failed (with the end of its log).
    """
    spec = load_stages(stages_file)
    stages = spec['stages']
    names = [s['name'] for s in stages]
    options = split_options(cfg_options, names)
    select = dict(select or {})
    unknown = set(select) - set(names)
    if unknown:
        raise ValueError(f'--select names {sorted(unknown)}, not among the stages {names}')
    chosen: Dict[str, str] = {}
    summary = dict(stages_file=osp.abspath(stages_file), work_dir=osp.abspath(work_dir),
                   seed=seed, data_root=data_root or spec['data_root'], stages={})
    for stage in stages:
        name = stage['name']
        stage = dict(stage, select=select.get(name, stage['select']))
        stage_dir = osp.join(work_dir, name)
        load_from = chosen[stage['load_from']] if stage['load_from'] else None
        if load_from is not None and not osp.isfile(load_from):
            raise FileNotFoundError(f'stage {name!r} starts from {load_from}, the checkpoint stage '
                                    f'{stage["load_from"]!r} chose, which is missing: rerun that '
                                    'stage (remove its work directory)')
        opts = [f'randomness.seed={seed}', *stage['cfg_options'], *options[None],
                *options.get(name, [])]
        if load_from is not None:
            opts.append(f'load_from={load_from}')
        print(f'[run_stages] stage {name}: {osp.relpath(stage["config"])}'
              + (f' from {load_from}' if load_from else ''), flush=True)
        last = train_config(stage['config'], stage_dir, opts, desc=f'stage {name}',
                            data_root=data_root, old_root=spec['data_root'], edit=edit)
        chosen[name] = picked_checkpoint(stage_dir, stage['select']) if stage['select'] else last
        summary['stages'][name] = _stage_summary(stage, stage_dir, load_from, chosen[name])
        atomic_write(osp.join(work_dir, 'summary.json'), json.dumps(summary, indent=1) + '\n')
    return summary


def _num(x) -> str:
    return 'n/a' if x is None else f'{x:.4g}'


def _short(path: str) -> str:
    rel = osp.relpath(path)
    return path if rel.startswith('..') else rel


def format_summary(summary: dict) -> str:
    """A few human-readable lines: each stage's start and hand-on, comparisons, correlations."""
    lines = [f"stages of {summary['stages_file']} (seed {summary['seed']}, data "
             f"{summary['data_root']}):"]
    for name, s in summary['stages'].items():
        how = f"picked by {s['select']!r}" if s['select'] else 'its last checkpoint'
        start = (f"stage {s['load_from_stage']} ({osp.basename(s['load_from'])})"
                 if s['load_from'] else "the config's load_from")
        lines.append(f"  {name}: from {start}; hands on {_short(s['checkpoint'])} ({how})")
        for rule, pick in (s.get('picks') or {}).items():
            metrics = ', '.join(f'{k} {v:.4g}' for k, v in sorted(pick['metrics'].items())
                                if isinstance(v, (int, float))) if pick else ''
            lines.append(f"    {rule}: " + (f"iter {pick['iter']}: {metrics}" if pick else 'none'))
        c = s.get('comparison')
        if c:
            lines.append(f"    {c['label_free']} vs {c['oracle']} on {c['key']}: "
                         f"{_num(c['label_free_value'])} vs {_num(c['oracle_value'])} "
                         f"(gap {_num(c['gap'])})")
        for r in s.get('correlations') or []:
            lines.append(f"    Spearman({r['x']}, {r['y']}) = {_num(r['spearman'])} over "
                         f"{r['n']} checkpoints")
    lines.append(f"summary: {osp.join(summary['work_dir'], 'summary.json')}")
    return '\n'.join(lines)


def parse_select(items: Sequence[str]) -> Dict[str, str]:
    out = {}
    for item in items:
        name, sep, rule = item.partition('=')
        if not sep or not name or not rule:
            raise ValueError(f'--select {item!r} is not STAGE=RULE')
        out[name] = rule
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='See the module docstring for the stages file.')
    parser.add_argument('stages', help='stages file, e.g. configs/calsfda/stages_toy.py')
    parser.add_argument('--work-dir', required=True, help='stage NAME trains in WORK_DIR/NAME')
    parser.add_argument('--seed', type=int, default=0, help='randomness.seed of every stage')
    parser.add_argument('--data-root', default=None,
                        help="replaces the stages file's data_root in every stage config")
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='[STAGE:]KEY=VALUE',
                        help='overrides of every stage, or of stage STAGE only')
    parser.add_argument('--select', nargs='+', default=[], metavar='STAGE=RULE',
                        help="checkpoint_selection.json rule whose pick stage STAGE hands on")
    args = parser.parse_args(argv)
    try:
        summary = run_stages(args.stages, args.work_dir, args.seed, args.data_root,
                             args.cfg_options, parse_select(args.select))
    except (FileNotFoundError, ValueError) as e:  # bad input: nothing of the stage was trained
        parser.exit(2, f'run_stages.py: error: {e}\n')
    except RuntimeError as e:  # a stage's training failed: the message ends with its log
        parser.exit(1, f'run_stages.py: {e}\n')
    print(format_summary(summary))


if __name__ == '__main__':
    main()
