"""T2S-DA on the toy benchmark: source-only, DAFormer (DACS), + T2S loss, ablations, DG variant.

For each seed: the toy MiT source model (from scratch), then every adaptation run from it (the
DAFormer toy config, the T2S-DA toy config and its ablations, each through mmseg's
``tools/train.py``), and the DG variant (source data only). Every run is evaluated on target val at
each of its saved checkpoints (one per validation): the table gives mIoU and ECE (15 bins) of the
last iteration and of the oracle checkpoint (best target-val mIoU of the run), mean ± sample std
over seeds. With ``--similarity``, the per-class cross-domain feature similarity
(``tools/analysis/feature_similarity.py``) of the source-only, DAFormer and T2S-DA models of the
first seed.

``--size H W`` runs the protocol on toy data generated at that size (``make_toy_data.py --height H
--width W`` into ``--data``): crops, padding and the rare-class-sampling pixel count follow; the
schedules stay the configs'. ``--shift S --severity K`` generates the target domain of
``make_toy_data.py``'s shift family instead of the default target (into ``--data``, which must then
be another folder). ``--batch N`` sets the batch size of every adaptation / DG run (the source
model keeps its config's).

    python tools/benchmark/t2sda.py [--seeds 0 1 2] [--work-dir work_dirs/t2sda]
        [--data data/toy] [--size 128 256] [--shift S --severity K] [--batch N]
        [--only main ablations cost dg]
        [--runs NAME ...] [--similarity]

Finished runs are reused (``train_config``'s content key) and interrupted ones resume; seeds can
run in separate processes and a last call collects them.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path[:0] = [REPO]

from mmsfda.apis import evaluate_checkpoint, read_manifest, run_name, train_config  # noqa: E402
from mmsfda.apis.config_utils import sha256_file  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402

TOY_ROOT = 'data/toy'
TOY_SIZE = (128, 256)
RCS_MIN_PIXELS = 375  # of the toy UDA dataset config, at 128x256
SOURCE = 'configs/source_only/daformer_mit-tiny_1xb4-800_toy-source-128x256.py'
DAFORMER = 'configs/daformer/daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
T2SDA = 'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
T2SDG = 'configs/t2sda/t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py'


def photometric_view(cfg):
    """The DG configs' weight-free pseudo-target view (``StrongAugment``) in a UDA config."""
    cfg.model.pseudo_target = dict(type='StrongAugment')
    cfg.model.style_from = None


# name -> (config, extra options, kind[, edit of the parsed config]); kind: 'uda'
# (DomainPairDataset) or 'dg' (source only)
MAIN = {
    'DAFormer (DACS)': (DAFORMER, [], 'uda'),
    'T2S-DA': (T2SDA, [], 'uda'),
}
ABLATIONS = {
    'T2S-DA, random queries': (T2SDA, ['model.t2s_loss.query_sampling=random'], 'uda'),
    'T2S-DA, source-only negatives': (T2SDA, ['model.t2s_loss.negative_domains=source'], 'uda'),
    'T2S-DA, target-only negatives': (T2SDA, ['model.t2s_loss.negative_domains=target'], 'uda'),
    'T2S-DA, no re-weighting': (T2SDA, ['model.reweighting=None'], 'uda'),
    'T2S-DA, no pseudo-target view (queries from clean source)':
        (T2SDA, ['model.pseudo_target=None'], 'uda'),
    'T2S-DA, lambda_T2S 0.01 (default 0.1)': (T2SDA, ['model.t2s_loss.loss_weight=0.01'], 'uda'),
    # The paper's figure fixes FDA-view queries only; reliable target pixels as queries are [U].
    'T2S-DA, no target queries (FDA-view queries only)':
        (T2SDA, ['model.target_queries=False'], 'uda'),
    # Splits T2S-DA's change to DAFormer's step in two: the source CE taken on the FDA view (this
    # row) and the contrastive loss on top of it (T2S-DA).
    'T2S-DA with lambda_T2S 0 (source CE on the FDA view, no contrastive loss)':
        (T2SDA, ['model.t2s_loss.loss_weight=0.0'], 'uda'),
    'T2S-DA, source CE on the clean source (queries from one more forward of the FDA view)':
        (T2SDA, ['model.source_loss_view=clean'], 'uda'),
    # The DG configs' weight-free view (colour jitter + blur of the source image) as the
    # pseudo-target view instead of FDA, with and without the contrastive loss: T2S-DG, trained
    # on that view without target data, ends above DAFormer on the toy.
    'T2S-DA, photometric pseudo-target view (StrongAugment, as the DG configs)':
        (T2SDA, [], 'uda', photometric_view),
    'T2S-DA, photometric pseudo-target view, lambda_T2S 0 (no contrastive loss)':
        (T2SDA, ['model.t2s_loss.loss_weight=0.0'], 'uda', photometric_view),
    # DAFormer's step inside T2S-DA's machinery (its sampling draws from the same random stream):
    # how far a run moves from DAFormer's with the same seed when only that stream changes.
    'null control: T2S-DA with lambda_T2S 0 and no pseudo-target view':
        (T2SDA, ['model.t2s_loss.loss_weight=0.0', 'model.pseudo_target=None'], 'uda'),
}
# The step-cost option (the teacher's clean-source forward is most of the loss's cost): keys,
# prototype updates and source negatives from the teacher on every second step only; between
# them the memory's prototypes and a queue of the last 64 keys per class.
COST = {
    'T2S-DA, teacher keys every 2nd step (queue of 64 keys per class)':
        (T2SDA, ['model.key_interval=2', 'model.memory.queue_size=64'], 'uda'),
}
DG = {
    'source-only, continued (DG control: no style view, no T2S loss)':
        (T2SDG, ['model.pseudo_target=None', 'model.t2s_loss.loss_weight=0.0'], 'dg'),
    'T2S-DG (photometric stand-in views, no target data)': (T2SDG, [], 'dg'),
}
GROUPS = dict(main=MAIN, ablations=ABLATIONS, cost=COST, dg=DG)


def fmt(values, digits=2):
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.{digits}f} ± {spread:.{digits}f}'


def size_options(size, kind):
    """Options moving a config to ``size`` crops (nothing at the toy's own size)."""
    if tuple(size) == TOY_SIZE:
        return []
    s = f'[{size[0]},{size[1]}]'
    if kind == 'source':
        return [f'model.data_preprocessor.size={s}', f'data_preprocessor.size={s}']
    opts = [f'model.student.data_preprocessor.size={s}', f'data_preprocessor.size={s}']
    if kind == 'uda':
        scale = size[0] * size[1] / (TOY_SIZE[0] * TOY_SIZE[1])
        opts.append('train_dataloader.dataset.rare_class_sampling.min_pixels='
                    f'{max(1, round(RCS_MIN_PIXELS * scale))}')
    return opts


def target_val(data):
    return dict(type='ToyCityDataset', data_root=f'{data}/target',
                data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
                pipeline=[dict(type='CheckedLoadImageFromFile'),
                          dict(type='CheckedLoadAnnotations', num_classes=10),
                          dict(type='PackSegInputs')])


def evaluate_run(work, data):
    """Target-val mIoU / ECE (%) of every ``iter_*.pth`` of a finished run: ``{iter: metrics}``,
    cached in ``work/benchmark_eval.json`` by checkpoint content and data root."""
    cache_file = osp.join(work, 'benchmark_eval.json')
    cache = {}
    if osp.isfile(cache_file):
        with open(cache_file) as f:
            cache = json.load(f)
    config = read_manifest(work)['resolved_config']
    out = {}
    for ckpt in sorted(glob.glob(osp.join(work, 'iter_*.pth')),
                       key=lambda p: int(re.findall(r'\d+', osp.basename(p))[0])):
        it = int(re.findall(r'\d+', osp.basename(ckpt))[0])
        key = f'{sha256_file(ckpt)}:{osp.abspath(data)}'
        if key not in cache:
            m = evaluate_checkpoint(config, ckpt, osp.join(work, f'eval_iter{it}'),
                                    dataset=target_val(data))
            cache[key] = dict(iter=it, mIoU=float(m['mIoU']), ECE=100 * float(m['ECE']))
            atomic_write(cache_file, json.dumps(cache, indent=1) + '\n')
        out[it] = cache[key]
    return out


def last_and_oracle(evals):
    last = evals[max(evals)]
    oracle = max(evals.values(), key=lambda r: (r['mIoU'], -r['iter']))
    return dict(last=last, oracle=oracle)


def run_seed(args, seed, groups):
    root = None if osp.normpath(args.data) == TOY_ROOT else args.data
    common = [f'randomness.seed={seed}']
    src_work = osp.join(args.work_dir, run_name('source-only', seed))
    source = train_config(SOURCE, src_work, common + size_options(args.size, 'source'),
                          data_root=root, desc=f'source-only, seed {seed}')
    rows = {'source-only': last_and_oracle(evaluate_run(src_work, args.data))}
    for group in groups:
        for name, (config, options, kind, *edit) in GROUPS[group].items():
            if args.runs and name not in args.runs:
                continue
            work = osp.join(args.work_dir, run_name(name, seed))
            batch = [f'train_dataloader.batch_size={args.batch}'] if args.batch else []
            train_config(config, work, [*common, f'load_from={source}', *options,
                                        *size_options(args.size, kind), *batch],
                         data_root=root, desc=f'{name}, seed {seed}', edit=edit[0] if edit else None)
            rows[name] = last_and_oracle(evaluate_run(work, args.data))
            write_report(args, collect(args))  # partial tables survive an interruption
    return rows


def collect(args):
    """Every finished and evaluated run of the seeds, of every group whatever ``--only`` chose
    (the report is one file: missing runs are left out)."""
    results = {}
    names = ['source-only'] + [n for g in GROUPS for n in GROUPS[g]]
    for seed in args.seeds:
        for name in names:
            work = osp.join(args.work_dir, run_name(name, seed))
            cache = osp.join(work, 'benchmark_eval.json')
            manifest = read_manifest(work) if osp.isdir(work) else None
            if manifest is None or not osp.isfile(cache) or not osp.isfile(
                    osp.join(work, f'iter_{manifest["max_iters"]}.pth')):
                continue
            with open(cache) as f:
                evals = {r['iter']: r for r in json.load(f).values()}
            results.setdefault(name, {})[seed] = last_and_oracle(evals)
    return results


def write_report(args, results):
    lines = [f'toy benchmark at {args.size[0]}x{args.size[1]} ({args.data}), target val, seeds '
             f'{args.seeds}: mean ± sample std over the seeds that finished (n)',
             '| model | n | mIoU, last | ECE (%), last | mIoU, oracle | ECE (%), oracle | '
             'oracle iteration per seed |', '| --- | --- | --- | --- | --- | --- | --- |']
    for name, per_seed in results.items():
        rs = [per_seed[s] for s in sorted(per_seed)]
        lines.append(
            f'| {name} | {len(rs)} | {fmt([r["last"]["mIoU"] for r in rs])} | '
            f'{fmt([r["last"]["ECE"] for r in rs])} | {fmt([r["oracle"]["mIoU"] for r in rs])} | '
            f'{fmt([r["oracle"]["ECE"] for r in rs])} | '
            f'{", ".join(str(r["oracle"]["iter"]) for r in rs)} |')
    text = '\n'.join(lines)
    os.makedirs(args.work_dir, exist_ok=True)
    atomic_write(osp.join(args.work_dir, 'benchmark_t2sda.md'), text + '\n')
    return text


def similarity(args, seed):
    """The feature-similarity diagnostic of source-only, DAFormer and T2S-DA (one seed)."""
    models = []
    for name, config in (('source-only', SOURCE), ('DAFormer (DACS)', DAFORMER),
                         ('T2S-DA', T2SDA)):
        work = osp.join(args.work_dir, run_name(name, seed))
        manifest = read_manifest(work)
        if manifest is None:
            continue
        models += ['--model', name, manifest['resolved_config'],
                   osp.join(work, f'iter_{manifest["max_iters"]}.pth')]
    out = osp.join(args.work_dir, f'feature_similarity_seed{seed}')
    subprocess.run([sys.executable, osp.join(REPO, 'tools/analysis/feature_similarity.py'),
                    *models, '--data', args.data, '--out', out], check=True)
    with open(out + '.md') as f:
        return f.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/t2sda')
    p.add_argument('--data', default=TOY_ROOT)
    p.add_argument('--size', type=int, nargs=2, default=list(TOY_SIZE), metavar=('H', 'W'))
    p.add_argument('--shift', default=None,
                   help="make_toy_data.py's --shift of the target domain (with --data elsewhere "
                        'than data/toy; default: the default target)')
    p.add_argument('--severity', type=int, default=None, help="make_toy_data.py's --severity")
    p.add_argument('--only', nargs='+', choices=sorted(GROUPS), default=list(GROUPS),
                   help='run groups (source-only always runs)')
    p.add_argument('--runs', nargs='+', metavar='NAME',
                   help='only these runs of the groups (names as in the table; default: all)')
    p.add_argument('--batch', type=int, default=None,
                   help='batch size of the adaptation and DG runs (default: the configs\' 4)')
    p.add_argument('--similarity', action='store_true',
                   help='also the per-class feature similarity diagnostic (first seed)')
    p.add_argument('--report-only', action='store_true',
                   help='train nothing: the tables of the finished, evaluated runs')
    args = p.parse_args()
    if (args.shift or args.severity is not None) and osp.normpath(args.data) == TOY_ROOT:
        p.error(f'--shift/--severity would regenerate {TOY_ROOT} with another target domain: '
                'give --data another folder (e.g. data/toy_fog-2)')
    os.chdir(REPO)
    if not args.report_only:
        cmd = [sys.executable, 'tools/make_toy_data.py', '--out', args.data, '--no-progress']
        if tuple(args.size) != TOY_SIZE:
            cmd += ['--height', str(args.size[0]), '--width', str(args.size[1])]
        if args.shift:
            cmd += ['--shift', args.shift]
        if args.severity is not None:
            cmd += ['--severity', str(args.severity)]
        subprocess.run(cmd, check=True)
        for seed in args.seeds:
            run_seed(args, seed, args.only)
    text = write_report(args, collect(args))
    print(text)
    if args.similarity:
        print(similarity(args, args.seeds[0]))


if __name__ == '__main__':
    main()
