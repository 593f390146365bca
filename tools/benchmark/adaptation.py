"""Source-only vs every adaptation baseline on the toy benchmark, per target shift and seed.

For each seed the source model of each network is trained once (on ``--data``'s source domain:
the DeepLabV2 r18-tiny, and DAFormer's MiT net for DAFormer and MIC); each baseline then adapts
the source model of its network to every target shift of ``--shifts`` with ONE set of method defaults (its config,
unchanged across shifts), and every model is evaluated on that shift's target val (mIoU, ECE).
Prints one table per shift (mean and sample standard deviation over seeds of the last checkpoint's
target mIoU and ECE, its gain over the source-only model it started from, the same for the oracle
checkpoint: the run's kept checkpoint with the best target-val mIoU, an upper bound that needs
target labels; wall time of the training run) and a summary: each method's mIoU gain per shift and the mean over
shifts.

Shifts are those of ``tools/make_toy_data.py --shift KIND --severity S`` (written here when
missing): ``default`` is the original target in ``--data``; ``KIND:S`` (or ``KIND``, severity 2)
lives in ``<data>_<KIND>-<S>``; ``all`` is every kind but ``default`` at ``--severity``. Every
data root of every config (train, val, label and hook dataloaders) is moved to the shift's root
(``train_config(data_root=...)``).

Runs go through mmseg's own tools/train.py. Runs and results are cached by content: a finished run
or an evaluation is reused only if its resolved config, ``load_from`` checkpoint, data and
evaluation settings are the same (else it is redone, with a line saying why); interrupted runs
resume. Runs are named as in ``tools/demo.py`` and the default work directory is the demo's, so
the demo's seed-0 runs on the default shift are reused, not repeated. Wall time: first to last log
line of the training run, read from mmengine's logs.

    python tools/benchmark/adaptation.py [--seeds 0 1 2] [--shifts default | all | night:2 ...]
                                         [--severity 2] [--work-dir work_dirs/demo]
                                         [--only tent dacs] [--data data/toy]
"""
import argparse
import functools
import glob
import json
import os
import os.path as osp
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import mmsfda  # noqa: E402,F401
from mmsfda.apis import (add_toy_run_options, evaluate_checkpoint, finished_run,  # noqa: E402
                         read_cached_result, read_manifest, run_name, sha256_json,
                         shorten_schedule, train_config, training_wall_time)
from mmsfda.utils import atomic_write  # noqa: E402

#: Source-only runs, one per network: every baseline adapts the source model of its network.
SOURCES = {
    'r18-tiny': ('source-only', 'source',
                 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'),
    'mit-tiny': ('source-only (MiT)', 'source',
                 'configs/source_only/daformer_mit-tiny_1xb4-800_toy-source-128x256.py'),
}
SOURCE = SOURCES['r18-tiny']
#: (row name, setting, config[, network of its source model; default r18-tiny])
BASELINES = [
    ('AdaBN (SFDA)', 'sfda', 'configs/adabn/adabn_deeplabv2_r18-tiny_toy-source-to-target-128x256.py'),
    ('TENT (SFDA)', 'sfda', 'configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('SHOT-IM (SFDA)', 'sfda',
     'configs/shot/shot-im_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('CBST (SFDA)', 'sfda', 'configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'),
    ('DACS (UDA)', 'uda', 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('MinEnt (UDA)', 'uda',
     'configs/minent/minent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('AdaptSegNet (UDA)', 'uda',
     'configs/adaptsegnet/adaptsegnet_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('AdvEnt (UDA)', 'uda',
     'configs/advent/advent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('FDA (UDA)', 'uda', 'configs/fda/fda_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('DAFormer (UDA)', 'uda',
     'configs/daformer/daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'mit-tiny'),
    ('MIC-DAFormer (UDA)', 'uda',
     'configs/mic/mic-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'mit-tiny'),
    ('HRDA (UDA)', 'uda',
     'configs/hrda/hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'mit-tiny'),
    ('MIC-HRDA (UDA)', 'uda',
     'configs/mic/mic-hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'mit-tiny'),
]
SOURCE_NAMES = {v[0] for v in SOURCES.values()}


def network(method):
    """The network (``SOURCES`` key) of a baseline entry."""
    return method[3] if len(method) > 3 else 'r18-tiny'


def source_of(method):
    """Row name of the source-only run ``method`` starts from (itself for a source row)."""
    return method[0] if method[0] in SOURCE_NAMES else SOURCES[network(method)][0]


TARGET_VAL = dict(type='ToyCityDataset', data_prefix=dict(img_path='images/val',
                                                          seg_map_path='labels/val'),
                  pipeline=[dict(type='CheckedLoadImageFromFile'),
                            dict(type='CheckedLoadAnnotations', num_classes=10),
                            dict(type='PackSegInputs')])
N_BINS = 15


def _load_make_toy_data():
    from mmsfda.utils.repo_tools import load_repo_tool
    return load_repo_tool('make_toy_data')


toy = _load_make_toy_data()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--shifts', nargs='+', default=['default'],
                   help="'default', KIND[:SEVERITY] or 'all' (every kind but default at "
                        f"--severity); kinds: {', '.join(toy.SHIFTS)}")
    p.add_argument('--severity', type=int, choices=toy.SEVERITIES, default=2,
                   help="severity of 'all' and of kinds given without one")
    p.add_argument('--work-dir', default='work_dirs/demo', help='shared with tools/demo.py')
    p.add_argument('--data', default='data/toy',
                   help='data root of the default shift and of source training; shift KIND:S '
                        'lives in <data>_<KIND>-<S>')
    p.add_argument('--only', nargs='*', help='baselines to run, by name or its first word, any '
                                             'case (e.g. tent dacs; default: all)')
    add_toy_run_options(p)
    p.add_argument('--report-only', action='store_true',
                   help='train and evaluate nothing: tables from the cached results that match '
                        '(missing ones are shown as -)')
    args = p.parse_args(argv)
    try:
        args.shifts = expand_shifts(args.shifts, args.severity)
    except ValueError as e:
        p.error(str(e))
    if args.only:
        wanted = [o.lower() for o in args.only]
        args.baselines = [b for b in BASELINES if b[0].lower() in wanted
                          or b[0].split()[0].lower() in wanted]
        names = {b[0].lower() for b in BASELINES} | {b[0].split()[0].lower() for b in BASELINES}
        unknown = [o for o in args.only if o.lower() not in names]
        if unknown:
            p.error(f'--only: unknown baseline(s) {unknown}; choose from '
                    f'{[b[0] for b in BASELINES]}')
    else:
        args.baselines = list(BASELINES)
    return args


def expand_shifts(items, severity):
    """``['default', 'night', 'fog:3', 'all']`` -> ``[('default', None), ('night', 2), ...]``."""
    out = []
    for item in items:
        if item == 'all':
            found = [(k, severity) for k in toy.SHIFTS if k != 'default']
        elif item == 'default':
            found = [('default', None)]
        else:
            kind, _, sev = item.partition(':')
            if not sev.isdigit() and sev:
                raise ValueError(f'shift {item!r}: the severity must be a number (KIND:1|2|3)')
            found = [(kind, toy.check_shift(kind, int(sev) if sev else severity))]
        out += [s for s in found if s not in out]
    return out


def shift_name(shift):
    kind, severity = shift
    return kind if severity is None else f'{kind}-{severity}'


def shift_root(data, shift):
    return data if shift[0] == 'default' else f'{data}_{shift_name(shift)}'


def shift_dir(work_dir, shift):
    """Work folder of a shift's runs; the default shift's are the demo's."""
    return work_dir if shift[0] == 'default' else osp.join(work_dir, f'shift_{shift_name(shift)}')


def evaluate(work, ckpt, data_root, train_work, seed, cached_only=False):
    """Target-val mIoU/ECE of the run's last checkpoint ``ckpt`` and its oracle checkpoint.

    The oracle is the checkpoint of the run (every ``iter_*.pth`` it kept, ``ckpt`` included) with
    the highest target-val mIoU: an upper bound that needs target labels, reported beside the last
    iteration. Each evaluation is cached in ``work`` by key (run, dataset, data, checkpoint).
    With ``cached_only``, the cached result or ``None`` (also ``None`` when ``ckpt`` is).
    """
    if ckpt is None:
        return None
    last = evaluate_one(work, ckpt, data_root, train_work, seed, cached_only, last=True)
    if last is None:
        return None
    kept = sorted(glob.glob(osp.join(train_work, 'iter_*.pth')))
    scores = [last] + [evaluate_one(work, c, data_root, train_work, seed, cached_only, last=False)
                       for c in kept if osp.abspath(c) != osp.abspath(ckpt)]
    if any(r is None for r in scores):
        return None
    best = max(scores, key=lambda r: r['mIoU'])
    return dict(last, oracle_mIoU=best['mIoU'], oracle_ECE=best['ECE'],
                oracle_checkpoint=osp.basename(best['checkpoint']))


def evaluate_one(work, ckpt, data_root, train_work, seed, cached_only, last):
    """Target-val mIoU/ECE of one checkpoint of the run in ``train_work``, cached in ``work``
    (``last``: the run's final checkpoint, under the cache names of earlier versions)."""
    manifest = read_manifest(train_work)
    dataset = dict(TARGET_VAL, data_root=f'{data_root}/target')
    stem = osp.splitext(osp.basename(ckpt))[0]
    parts = dict(run=manifest['key'], dataset=dataset, n_bins=N_BINS, data=toy_meta_hash(data_root))
    if not last:
        parts['checkpoint'] = stem
    key = sha256_json(parts)
    result_file = osp.join(work, 'benchmark_result.json' if last else f'benchmark_result_{stem}.json')
    cached = read_cached_result(result_file, key)
    if cached is not None:
        return cached
    if osp.isfile(result_file):
        print(f'[adaptation] {result_file}: re-evaluating: the run, data or evaluation settings '
              'changed since it was written', flush=True)
    if cached_only:
        return None
    metrics = evaluate_checkpoint(manifest['resolved_config'], ckpt,
                                  osp.join(work, 'eval' if last else f'eval_{stem}'),
                                  dataset=dataset, n_bins=N_BINS)
    result = dict(key=key, mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']),
                  wall_s=training_wall_time(train_work), checkpoint=ckpt, seed=seed)
    atomic_write(result_file, json.dumps(result, indent=1) + '\n')
    return result


def toy_meta_hash(data_root):
    from mmsfda.apis.config_utils import sha256_file
    meta = osp.join(data_root, 'meta.json')
    return sha256_file(meta) if osp.isfile(meta) else None


def fmt(values):
    if not len(values) or any(v is None for v in values):
        return '-'
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.2f} ± {spread:.2f}'


def metric(results, key):
    """``[result[key] or None per seed]`` (``None`` where a run has no result)."""
    return [None if r is None else r[key] for r in results]


def shift_table(shift, results, methods, seeds):
    lines = [f'shift {shift_name(shift)}: target val, {len(seeds)} seed(s) {seeds}: mean ± std; '
             'oracle: the run\'s checkpoint with the best target-val mIoU (needs target labels)',
             '| method | setting | target mIoU (last) | gain over its source-only (mIoU) | '
             'target ECE (%) (last) | target mIoU (oracle) | target ECE (%) (oracle) | '
             'wall time (s) |', '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for method in methods:
        name, kind = method[:2]
        rs = results[name]
        miou, base = metric(rs, 'mIoU'), metric(results[source_of(method)], 'mIoU')
        gain = '' if name in SOURCE_NAMES else fmt(
            [None if m is None or b is None else m - b for m, b in zip(miou, base)])
        lines.append(f"| {name} | {kind} | {fmt(miou)} | {gain} | {fmt(metric(rs, 'ECE'))} | "
                     f"{fmt(metric(rs, 'oracle_mIoU'))} | {fmt(metric(rs, 'oracle_ECE'))} | "
                     f"{fmt(metric(rs, 'wall_s'))} |")
    return '\n'.join(lines)


def summary_table(all_results, shifts, methods, seeds):
    """Rows: methods; columns: target mIoU gain over source-only per shift, mean over shifts."""
    names = [shift_name(s) for s in shifts]
    lines = [f'mIoU gain over source-only per shift (mean over {len(seeds)} seed(s) {seeds}); '
             'source-only row: its target mIoU',
             '| method | ' + ' | '.join(names) + ' | mean over shifts | shifts with a gain |',
             '| --- | ' + ' | '.join('---' for _ in names) + ' | --- | --- |']
    for method in methods:
        name, src = method[0], source_of(method)
        cells = []
        for s in shifts:
            rs = all_results[shift_name(s)]
            miou, base = metric(rs[name], 'mIoU'), metric(rs[src], 'mIoU')
            if None in miou or None in base:
                cells.append(None)  # not run (yet)
            else:
                cells.append(np.mean(miou) if name == src else np.mean(np.subtract(miou, base)))
        done = [c for c in cells if c is not None]
        sign = '' if name == src else '+'
        n_gain = '' if name == src else f'{sum(c > 0 for c in done)}/{len(done)}'
        mean = f'{np.mean(done):{sign}.2f}' if done else '-'
        if done and len(done) < len(cells):
            mean += f' (over {len(done)} of {len(cells)})'
        lines.append(f'| {name} | ' + ' | '.join('-' if c is None else f'{c:{sign}.2f}'
                                                 for c in cells) + f' | {mean} | {n_gain} |')
    return '\n'.join(lines)


def write_report(args, all_results, methods):
    """Write the tables so far (runs not done yet show as -) to the work dir; return them.

    Called after every run, so an interrupted benchmark leaves the tables of what it finished.
    """
    tables = [shift_table(s, all_results[shift_name(s)], methods, args.seeds)
              for s in args.shifts]
    if len(args.shifts) > 1:
        tables.append(summary_table(all_results, args.shifts, methods, args.seeds))
    text = '\n\n'.join(tables)
    tag = '_'.join(shift_name(s) for s in args.shifts) if len(args.shifts) < 4 else 'shifts'
    atomic_write(osp.join(args.work_dir, f'benchmark_adaptation_{tag}.md'), text + '\n')
    atomic_write(osp.join(args.work_dir, f'benchmark_adaptation_{tag}.json'),
                 json.dumps(dict(seeds=args.seeds, shifts=[shift_name(s) for s in args.shifts],
                                 results=all_results), indent=1) + '\n')
    return text


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    n_train, n_val, h, w = args.toy_size
    size = dict(num_train=n_train, num_val=n_val, height=h, width=w)
    edit = None
    if args.quick:
        edit = functools.partial(shorten_schedule, iters=args.quick, image_size=(h, w))
    # Source training reads --data's source domain, which every shift shares.
    needed = [('default', None)] + [s for s in args.shifts if s[0] != 'default']
    for shift in needed if not args.report_only else []:
        toy.generate(shift_root(args.data, shift), shift=shift[0], severity=shift[1],
                     progress=False, **size)

    nets = [n for n in SOURCES if n == 'r18-tiny' or any(network(b) == n for b in args.baselines)]
    methods = [SOURCES[n] for n in nets] + args.baselines
    # [seed index] -> result dict, None until that run is done
    all_results = {shift_name(s): {m[0]: [None] * len(args.seeds) for m in methods}
                   for s in args.shifts}
    run = finished_run if args.report_only else train_config
    for i, seed in enumerate(args.seeds):
        src_ckpts = {}
        for net in nets:
            name, _, config = SOURCES[net]
            src_work = osp.join(args.work_dir, run_name(name, seed))
            kwargs = dict(data_root=args.data, edit=edit)
            if not args.report_only:
                kwargs['desc'] = f'{name} seed {seed}'
            src_ckpts[net] = run(config, src_work, [f'randomness.seed={seed}'], **kwargs)
            for shift in args.shifts:
                root, folder = shift_root(args.data, shift), shift_dir(args.work_dir, shift)
                all_results[shift_name(shift)][name][i] = evaluate(
                    osp.join(folder, run_name(name, seed)), src_ckpts[net], root, src_work, seed,
                    args.report_only)
        # Methods outer, shifts inner: a run stopped early has whole methods over every shift.
        for baseline in args.baselines:
            bname, _, bconfig = baseline[:3]
            src_ckpt = src_ckpts[network(baseline)]
            for shift in args.shifts:
                root, folder = shift_root(args.data, shift), shift_dir(args.work_dir, shift)
                work = osp.join(folder, run_name(bname, seed))
                ckpt = None
                if src_ckpt is not None:
                    kwargs = dict(data_root=root, edit=edit)
                    if not args.report_only:
                        kwargs['desc'] = f'{bname} {shift_name(shift)} seed {seed}'
                    ckpt = run(bconfig, work, [f'randomness.seed={seed}',
                                               f'load_from={src_ckpt}'], **kwargs)
                all_results[shift_name(shift)][bname][i] = evaluate(
                    work, ckpt, root, work, seed, args.report_only)
                write_report(args, all_results, methods)

    print(write_report(args, all_results, methods))


if __name__ == '__main__':
    main()
