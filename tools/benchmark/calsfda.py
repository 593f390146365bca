"""Cal-SFDA on the toy benchmark: label-free checkpoint selection with both value-net behaviours.

For each seed: stage 1 of Cal-SFDA (shared), then stages 2 and 3 once per value-net behaviour
(source-only and the SFDA baselines: ``tools/benchmark/adaptation.py``):

* ``decoder-aware`` (the default configs): the value net reads the backbone features and the
  decoder's output, and its BN statistics are re-estimated on target train images before every
  validation;
* ``backbone-only`` (the public code, ``calsfda-s{2,3}-*-backbone-only_*.py``): backbone features
  only, BN statistics estimated once before round 0.

Reports on target val (mean ± sample std over seeds): mIoU and ECE of the ECE-loss source model (stage 1: the final checkpoint, and the one the source rule picked, which stage 2
starts from), and, per behaviour, of the label-free pick (lowest mean estimated ECE on unlabelled
target val), the oracle pick (highest target-val mIoU, needs labels) and the last stage-3
checkpoint; and per behaviour how well the value net ranks the stage-3 checkpoints: Spearman
correlation between the mean estimated ECE and the true class-level ECE (and the pooled 15-bin
ECE), the mIoU gap between the oracle and the label-free pick, and how far the estimate moves.

    python tools/benchmark/calsfda.py [--seeds 0 1 2] [--work-dir work_dirs/demo] [--data data/toy]

Finished runs are reused (``train_config``'s content key) and interrupted ones resume; seeds can run
in separate processes (``--seeds 1``) and a last call over all seeds only collects them.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path[:0] = [HERE, osp.join(REPO, 'tools'), REPO]

from run_stages import picked_checkpoint, read_selection  # noqa: E402

from mmsfda.apis import evaluate_checkpoint, run_name, train_config  # noqa: E402
from mmsfda.apis.config_utils import sha256_file  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402

TOY_ROOT = 'data/toy'  # the data root of every toy config
TARGET_VAL = dict(type='ToyCityDataset', data_prefix=dict(img_path='images/val',
                                                          seg_map_path='labels/val'),
                  pipeline=[dict(type='CheckedLoadImageFromFile'),
                            dict(type='CheckedLoadAnnotations', num_classes=10),
                            dict(type='PackSegInputs')])


def fmt(values, digits=2):
    """``mean ± sample std`` of ``values``."""
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.{digits}f} ± {spread:.{digits}f}'
# The toy stages (as configs/calsfda/stages_toy.py, which tools/run_stages.py runs).
STAGE1, STAGE2, STAGE3 = (
    'configs/calsfda/calsfda-s1-source_deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py',
    'configs/calsfda/calsfda-s2-value_deeplabv2_r18-tiny_1xb4-300_toy-source-128x256.py',
    'configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py')
# Value-net behaviours: (stage-2 config, stage-3 config, sub-directory of the seed's work dir).
BEHAVIOURS = {
    'decoder-aware': (STAGE2, STAGE3, ''),
    'backbone-only': (
        'configs/calsfda/calsfda-s2-value-backbone-only_deeplabv2_r18-tiny_1xb4-300_'
        'toy-source-128x256.py',
        'configs/calsfda/calsfda-s3-adapt-backbone-only_deeplabv2_r18-tiny_1xb4-2x200_'
        'toy-source-to-target-128x256.py', 'backbone-only'),
}


def target_metrics(config, ckpt, work, data):
    """mIoU and ECE (%) of ``ckpt`` on target val, cached in ``work/result.json`` for this
    checkpoint content and data root (another checkpoint or data root is evaluated again)."""
    cache = osp.join(work, 'result.json')
    key = dict(checkpoint_sha256=sha256_file(ckpt), data=osp.abspath(data))
    if osp.isfile(cache):
        with open(cache) as f:
            cached = json.load(f)
        if all(cached.get(k) == v for k, v in key.items()):
            return cached
        print(f'{cache}: re-evaluating, the checkpoint or the data root changed')
    m = evaluate_checkpoint(config, ckpt, work, dataset=dict(TARGET_VAL, data_root=f'{data}/target'))
    result = dict(mIoU=float(m['mIoU']), ECE=100 * float(m['ECE']), checkpoint=ckpt, **key)
    atomic_write(cache, json.dumps(result))
    return result


def stage3_rows(selection: dict) -> dict:
    """Label-free pick, oracle pick and last checkpoint of a stage-3 ``checkpoint_selection.json``
    (target val mIoU, ECE in %), and the selection diagnostics."""
    last = max(selection['records'], key=lambda r: r['iter'])
    rows = {}
    for label, record in (('label-free pick', selection['picks']['label_free']),
                          ('oracle pick', selection['picks']['oracle']), ('last iteration', last)):
        rows[label] = dict(mIoU=float(record['metrics']['mIoU']),
                           ECE=100 * float(record['metrics']['ECE']), iter=record['iter'])
    est = [float(r['metrics']['EstECE']) for r in selection['records']]
    corr = {(c['x'], c['y']): c['spearman'] for c in selection['correlations']}
    diagnostics = dict(
        spearman_class_ece=corr.get(('EstECE', 'ClassECE')),
        spearman_ece=corr.get(('EstECE', 'ECE')),
        gap=selection['comparison']['gap'],
        est_range=max(est) - min(est), distinct_estimates=len(set(est)), checkpoints=len(est))
    return rows, diagnostics


def calsfda_seed(work_dir, seed, data, behaviours=tuple(BEHAVIOURS)):
    """Stage 1 (shared) and stages 2-3 per value-net behaviour for one seed."""
    work = osp.join(work_dir, run_name('Cal-SFDA', seed))
    root = None if osp.normpath(data) == TOY_ROOT else data
    common = [f'randomness.seed={seed}']
    stage1 = osp.join(work, 'stage1')
    train_config(STAGE1, stage1, common, data_root=root,
                 desc=f'Cal-SFDA stage 1 (source + ECE loss), seed {seed}')
    source_ckpt = picked_checkpoint(stage1, 'min_ece_within_miou')
    rows = {
        '+ ECE loss, final': target_metrics(STAGE1, osp.join(stage1, 'iter_800.pth'),
                                            osp.join(work, 'eval_stage1_final'), data),
        '+ ECE loss, selected': target_metrics(STAGE1, source_ckpt,
                                               osp.join(work, 'eval_stage1_selected'), data),
    }
    diagnostics = {}
    for name in behaviours:
        s2_config, s3_config, sub = BEHAVIOURS[name]
        value_ckpt = train_config(s2_config, osp.join(work, sub, 'stage2'),
                                  [*common, f'load_from={source_ckpt}'], data_root=root,
                                  desc=f'Cal-SFDA stage 2 ({name} value net), seed {seed}')
        stage3 = osp.join(work, sub, 'stage3')
        train_config(s3_config, stage3, [*common, f'load_from={value_ckpt}'], data_root=root,
                     desc=f'Cal-SFDA stage 3 ({name} value net), seed {seed}')
        behaviour_rows, diagnostics[name] = stage3_rows(read_selection(stage3))
        rows.update({f'Cal-SFDA {name}, {k}': v for k, v in behaviour_rows.items()})
    return rows, diagnostics


ABLATIONS = {
    'Cal-SFDA without ECE weighting (plain class-balanced thresholds; label-free pick)':
        ['model.pseudo_labeler.ece_weighting=False'],
    'Cal-SFDA, BN warm-up from source statistics, momentum 0.1 (label-free pick)':
        ['default_hooks.bn_warmup.reset=False', 'default_hooks.bn_warmup.momentum=0.1'],
}


def ablation_seed(work_dir, seed, data, name, options):
    """Stage 3 of Cal-SFDA (default behaviour) with ``options``, from the seed's stage-2
    checkpoint."""
    base = osp.join(work_dir, run_name('Cal-SFDA', seed))
    work = osp.join(base, 'ablation_' + run_name(name, seed))
    root = None if osp.normpath(data) == TOY_ROOT else data
    train_config(STAGE3, work, [
        f'randomness.seed={seed}', f'load_from={osp.join(base, "stage2", "iter_300.pth")}',
        *options], data_root=root, desc=f'{name} {seed}')
    with open(osp.join(work, 'checkpoint_selection.json')) as f:
        metrics = json.load(f)['picks']['label_free']['metrics']
    return dict(mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/demo', help='shared with tools/demo.py')
    p.add_argument('--data', default='data/toy')
    p.add_argument('--behaviours', nargs='+', choices=sorted(BEHAVIOURS), default=list(BEHAVIOURS),
                   help='value-net behaviours to run (default: both)')
    p.add_argument('--ablations', action='store_true',
                   help='also stage 3 without ECE weighting / with the code\'s BN update')
    args = p.parse_args()
    os.chdir(REPO)
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', args.data, '--no-progress'],
                   check=True)
    results, diagnostics = {}, []
    for seed in args.seeds:
        rows, diag = calsfda_seed(args.work_dir, seed, args.data, args.behaviours)
        if args.ablations:
            rows.update({name: ablation_seed(args.work_dir, seed, args.data, name, options)
                         for name, options in ABLATIONS.items()})
        for k, v in rows.items():
            results.setdefault(k, []).append(v)
        diagnostics.append(diag)

    order = ['+ ECE loss, final', '+ ECE loss, selected']
    order += [k for k in results if k.startswith('Cal-SFDA ') and k not in ABLATIONS]
    order += [name for name in ABLATIONS if name in results]
    lines = [f'toy benchmark, target val, seeds {args.seeds}: mean ± std',
             '| model | target mIoU | target ECE (%) | stage-3 iteration per seed |',
             '| --- | --- | --- | --- |']
    for name in order:
        iters = ', '.join(str(r['iter']) for r in results[name]) if 'iter' in results[name][0] \
            else ''
        lines.append(f'| {name} | {fmt([r["mIoU"] for r in results[name]])} | '
                     f'{fmt([r["ECE"] for r in results[name]])} | {iters} |')

    def stat(behaviour, key, digits=2):
        values = [d[behaviour][key] for d in diagnostics]
        known = [v for v in values if v is not None]
        per_seed = ', '.join('n/a' if v is None else f'{v:.{digits}f}' for v in values)
        return (fmt(known, digits) if known else 'n/a'), per_seed

    lines += ['', 'value net as a target ECE estimator, over the stage-3 checkpoints of each seed '
              '(mean ± std; per seed):', '',
              '| measure | ' + ' | '.join(args.behaviours) + ' |',
              '| --- |' + ' --- |' * len(args.behaviours)]
    for label, key, digits in (
            ('Spearman(estimated ECE, true class-level ECE)', 'spearman_class_ece', 2),
            ('Spearman(estimated ECE, pooled 15-bin ECE)', 'spearman_ece', 2),
            ('mIoU gap, oracle minus label-free pick', 'gap', 2),
            ('range of the estimate over the checkpoints (max - min)', 'est_range', 4),
            ('distinct estimates / checkpoints', 'distinct_estimates', 0)):
        cells = []
        for b in args.behaviours:
            mean, per_seed = stat(b, key, digits)
            cells.append(f'{mean} ({per_seed})')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    lines.append('checkpoints per seed and behaviour: '
                 f'{[[d[b]["checkpoints"] for b in args.behaviours] for d in diagnostics]}')
    table = '\n'.join(lines)
    print(table)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'benchmark_calsfda.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
