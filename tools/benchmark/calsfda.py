"""Cal-SFDA on the toy benchmark against source-only, the ECE loss and the SFDA baselines.

For each seed: the source-only model and the SFDA baselines (runs shared with
``tools/benchmark/adaptation.py`` and the demo), and the three Cal-SFDA stages
(``tools/run_calsfda.py``). Reports on target val (mean ± sample std over seeds):

* mIoU and ECE of source-only, source-only + ECE loss (stage 1: the final checkpoint, and the
  checkpoint the source selection rule picked, which stage 2 starts from), Cal-SFDA (the checkpoint
  the label-free rule picked: lowest mean estimated ECE on unlabelled target val), the oracle
  Cal-SFDA checkpoint (highest target-val mIoU, needs labels) and the best SFDA baseline;
* how well the value net estimates the target ECE: Spearman correlation over the stage-3
  checkpoints between the mean estimated ECE and the true class-level ECE (and the pooled ECE),
  and the mIoU gap between the label-free and the oracle checkpoint.

    python tools/benchmark/calsfda.py [--seeds 0 1 2] [--work-dir work_dirs/demo]

Finished runs are reused and interrupted ones resume, as in ``adaptation.py``.
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

from adaptation import BASELINES, SOURCE, TARGET_VAL, data_options, fmt  # noqa: E402
from adaptation import run as run_baseline  # noqa: E402
from run_calsfda import CONFIGS  # noqa: E402
from run_calsfda import run as run_calsfda  # noqa: E402

from mmsfda.apis import evaluate_checkpoint, run_name, train_config  # noqa: E402

SFDA_BASELINES = [b for b in BASELINES if b[1] == 'sfda' and not b[0].startswith('CBST')]


def target_metrics(config, ckpt, work, data):
    """mIoU and ECE (%) of ``ckpt`` on target val, cached in ``work/result.json``."""
    cache = osp.join(work, 'result.json')
    if osp.isfile(cache):
        with open(cache) as f:
            return json.load(f)
    m = evaluate_checkpoint(config, ckpt, work, dataset=dict(TARGET_VAL, data_root=f'{data}/target'))
    result = dict(mIoU=float(m['mIoU']), ECE=100 * float(m['ECE']), checkpoint=ckpt)
    os.makedirs(work, exist_ok=True)
    with open(cache + '.tmp', 'w') as f:
        json.dump(result, f)
    os.replace(cache + '.tmp', cache)
    return result


def calsfda_seed(work_dir, seed, data):
    """Three stages for one seed; the rows of the table and the selection diagnostics."""
    work = osp.join(work_dir, run_name('Cal-SFDA', seed))
    src, tgt = f'{data}/source', f'{data}/target'
    s12 = [f'train_dataloader.dataset.data_root={src}', f'val_dataloader.dataset.data_root={src}']
    s3 = [f'train_dataloader.dataset.data_root={tgt}', f'val_dataloader.dataset.data_root={tgt}',
          f'train_cfg.label_dataloader.dataset.data_root={tgt}',
          f'custom_hooks.0.dataloader.dataset.data_root={tgt}']
    summary = run_calsfda('toy', work, seed, 'min_ece_within_miou', stage_options=(s12, s12, s3))
    stage1 = CONFIGS['toy'][0]
    rows = {
        '+ ECE loss, final': target_metrics(stage1, osp.join(work, 'stage1', 'iter_800.pth'),
                                            osp.join(work, 'eval_stage1_final'), data),
        '+ ECE loss, selected': target_metrics(stage1, summary['source_checkpoint'],
                                               osp.join(work, 'eval_stage1_selected'), data),
    }
    for label, rule in (('Cal-SFDA (label-free pick)', 'label_free'),
                        ('Cal-SFDA (oracle pick)', 'oracle')):
        metrics = summary['target_picks'][rule]['metrics']
        rows[label] = dict(mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']))
    return rows, summary


ABLATIONS = {
    'Cal-SFDA without ECE weighting (plain class-balanced thresholds; label-free pick)':
        ['model.pseudo_labeler.ece_weighting=False'],
    'Cal-SFDA, BN warm-up from source statistics, momentum 0.1 (label-free pick)':
        ['custom_hooks.0.reset=False', 'custom_hooks.0.momentum=0.1'],
}


def ablation_seed(work_dir, seed, data, name, options):
    """Stage 3 of Cal-SFDA with ``options``, from the seed's stage-2 checkpoint."""
    base = osp.join(work_dir, run_name('Cal-SFDA', seed))
    work = osp.join(base, 'ablation_' + run_name(name, seed))
    tgt = f'{data}/target'
    train_config(CONFIGS['toy'][2], work, [
        f'randomness.seed={seed}', f'load_from={osp.join(base, "stage2", "iter_300.pth")}',
        f'train_dataloader.dataset.data_root={tgt}', f'val_dataloader.dataset.data_root={tgt}',
        f'train_cfg.label_dataloader.dataset.data_root={tgt}',
        f'custom_hooks.0.dataloader.dataset.data_root={tgt}', *options], desc=f'{name} {seed}')
    with open(osp.join(work, 'checkpoint_selection.json')) as f:
        metrics = json.load(f)['picks']['label_free']['metrics']
    return dict(mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/demo', help='shared with tools/demo.py')
    p.add_argument('--data', default='data/toy')
    p.add_argument('--ablations', action='store_true',
                   help='also stage 3 without ECE weighting / with the code\'s BN update')
    args = p.parse_args()
    os.chdir(REPO)
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', args.data, '--no-progress'],
                   check=True)
    results, diagnostics = {}, []
    for seed in args.seeds:
        name, _, config = SOURCE
        src = run_baseline(name, config, osp.join(args.work_dir, run_name(name, seed)), seed,
                           [f'train_dataloader.dataset.data_root={args.data}/source',
                            f'val_dataloader.dataset.data_root={args.data}/source'], args.data)
        results.setdefault('source-only', []).append(src)
        for name, kind, config in SFDA_BASELINES:
            results.setdefault(name, []).append(run_baseline(
                name, config, osp.join(args.work_dir, run_name(name, seed)), seed,
                [f'load_from={src["checkpoint"]}', *data_options(kind, args.data)], args.data))
        rows, summary = calsfda_seed(args.work_dir, seed, args.data)
        if args.ablations:
            rows.update({name: ablation_seed(args.work_dir, seed, args.data, name, options)
                         for name, options in ABLATIONS.items()})
        for k, v in rows.items():
            results.setdefault(k, []).append(v)
        diagnostics.append(summary)

    best = max((n for n, _, _ in SFDA_BASELINES),
               key=lambda n: np.mean([r['mIoU'] for r in results[n]]))
    order = ['source-only', '+ ECE loss, final', '+ ECE loss, selected', best,
             'Cal-SFDA (label-free pick)', 'Cal-SFDA (oracle pick)']
    order += [name for name in ABLATIONS if name in results]
    base = np.array([r['mIoU'] for r in results['source-only']])
    lines = [f'toy benchmark, target val, seeds {args.seeds}: mean ± std',
             '| model | target mIoU | gain over source-only | target ECE (%) |',
             '| --- | --- | --- | --- |']
    for name in order:
        miou = np.array([r['mIoU'] for r in results[name]])
        label = f'{name} (best SFDA baseline)' if name == best else name
        gain = '' if name == 'source-only' else fmt(miou - base)
        lines.append(f'| {label} | {fmt(miou)} | {gain} | '
                     f'{fmt([r["ECE"] for r in results[name]])} |')

    def corr(d, x, y):
        return next(c['spearman'] for c in d['target_correlations'] if (c['x'], c['y']) == (x, y))

    def stat(get):
        values = [get(d) for d in diagnostics]
        known = [v for v in values if v is not None]
        per_seed = ', '.join('n/a' if v is None else f'{v:.2f}' for v in values)
        return (fmt(known) if known else 'n/a') + f' (per seed: {per_seed})'

    lines += ['', 'value net as a target ECE estimator (stage-3 checkpoints, per seed):',
              f'- Spearman(estimated ECE, true class-level ECE): '
              f'{stat(lambda d: corr(d, "EstECE", "ClassECE"))}',
              f'- Spearman(estimated ECE, pooled ECE): {stat(lambda d: corr(d, "EstECE", "ECE"))}',
              f'- mIoU gap, oracle minus label-free pick: '
              f'{stat(lambda d: d["target_comparison"]["gap"])}']
    table = '\n'.join(lines)
    print(table)
    with open(osp.join(args.work_dir, 'benchmark_calsfda.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
