"""Source-only vs every adaptation baseline on the toy benchmark, over several seeds.

For each seed: train the source model, adapt it with each baseline config, evaluate every model on
target val (mIoU, ECE) and record the wall time of each run. Prints a table with the mean and the
spread (sample standard deviation) over seeds, and the gain over source-only. Runs go through
mmseg's own tools/train.py; finished runs are reused, interrupted ones resume, so the script can be
stopped and restarted. Runs are named as in ``tools/demo.py`` and the default work directory is the
demo's, so the demo's seed-0 runs (same configs, seed and data) are reused, not repeated.
Wall time: first to last log line of the training run (all parts of a resumed run, validation
during training included), read from mmengine's logs.

    python tools/benchmark/adaptation.py [--seeds 0 1 2] [--work-dir work_dirs/demo]
                                         [--only tent dacs] [--data data/toy]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import mmsfda  # noqa: E402,F401
from mmsfda.apis import (evaluate_checkpoint, run_name, train_config,  # noqa: E402
                         training_wall_time)

SOURCE = ('source-only', 'source', 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py')
BASELINES = [
    ('AdaBN (SFDA)', 'sfda', 'configs/adabn/adabn_deeplabv2_r18-tiny_toy-source-to-target-128x256.py'),
    ('TENT (SFDA)', 'sfda', 'configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('SHOT-IM (SFDA)', 'sfda',
     'configs/shot/shot-im_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
    ('CBST (SFDA)', 'sfda', 'configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'),
    ('DACS (UDA)', 'uda', 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'),
]
TARGET_VAL = dict(type='ToyCityDataset', data_prefix=dict(img_path='images/val',
                                                          seg_map_path='labels/val'),
                  pipeline=[dict(type='CheckedLoadImageFromFile'),
                            dict(type='CheckedLoadAnnotations', num_classes=10),
                            dict(type='PackSegInputs')])


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/demo', help='shared with tools/demo.py')
    p.add_argument('--data', default='data/toy')
    p.add_argument('--only', nargs='*', help='baselines to run, by name (default: all)')
    return p.parse_args()


def data_options(kind, data):
    """Data roots of an adaptation run, as tools/demo.py passes them."""
    val = f'val_dataloader.dataset.data_root={data}/target'
    if kind == 'uda':
        return [f'train_dataloader.dataset.source.data_root={data}/source',
                f'train_dataloader.dataset.target.data_root={data}/target', val]
    return [f'train_dataloader.dataset.data_root={data}/target', val]


def run(name, config, work, seed, extra, data):
    """Train (or reuse) and evaluate on target val; returns metrics + wall time."""
    result_file = osp.join(work, 'benchmark_result.json')
    if osp.isfile(result_file):
        with open(result_file) as f:
            return json.load(f)
    ckpt = train_config(config, work, cfg_options=[f'randomness.seed={seed}', *extra],
                        desc=f'{name} seed {seed}')
    wall = training_wall_time(work)  # also right for runs the demo trained before
    metrics = evaluate_checkpoint(config, ckpt, osp.join(work, 'eval'),
                                  dataset=dict(TARGET_VAL, data_root=f'{data}/target'))
    result = dict(mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']), wall_s=wall,
                  checkpoint=ckpt)
    tmp = result_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(result, f)
    os.replace(tmp, result_file)
    return result


def fmt(values):
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.2f} ± {spread:.2f}'


def main():
    args = parse_args()
    os.chdir(REPO)
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', args.data], check=True)
    baselines = [b for b in BASELINES if not args.only or b[0] in args.only]
    results = {name: [] for name, _, _ in [SOURCE] + baselines}
    for seed in args.seeds:
        name, kind, config = SOURCE
        src = run(name, config, osp.join(args.work_dir, run_name(name, seed)), seed,
                  [f'train_dataloader.dataset.data_root={args.data}/source',
                   f'val_dataloader.dataset.data_root={args.data}/source'], args.data)
        results[name].append(src)
        for name, kind, config in baselines:
            results[name].append(run(
                name, config, osp.join(args.work_dir, run_name(name, seed)), seed,
                [f'load_from={src["checkpoint"]}', *data_options(kind, args.data)], args.data))
    base = np.array([r['mIoU'] for r in results[SOURCE[0]]])
    lines = [f'toy benchmark, target val, {len(args.seeds)} seed(s) {args.seeds}: mean ± std',
             '| method | setting | target mIoU | gain over source-only (mIoU) | target ECE (%) | '
             'wall time (s) |', '| --- | --- | --- | --- | --- | --- |']
    for name, kind, _ in [SOURCE] + baselines:
        rs = results[name]
        miou = np.array([r['mIoU'] for r in rs])
        gain = '' if name == SOURCE[0] else fmt(miou - base)
        lines.append(f"| {name} | {kind} | {fmt(miou)} | {gain} | {fmt([r['ECE'] for r in rs])} | "
                     f"{fmt([r['wall_s'] for r in rs])} |")
    table = '\n'.join(lines)
    print(table)
    with open(osp.join(args.work_dir, 'benchmark_adaptation.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
