"""FDA-MBT on the toy benchmark: three FDA models (beta 0.01 / 0.05 / 0.09) and their ensemble.

FDA-MBT (arXiv 2004.05498, Sec. 3.2, Eq. 4) averages the softmax outputs of FDA models trained with
different spectral window sizes beta. Per seed, the beta 0.01 member is the ``FDA (UDA)`` run of
``tools/benchmark/adaptation.py`` (same work directory, same run name, reused when finished); the
beta 0.05 and 0.09 members are the same config with ``model.style_transfer.beta`` changed, adapted
from the same source model. ``tools/model_converters/make_ensemble.py`` combines the three last
checkpoints into ``configs/fda/fda-mbt-ensemble_*.py``'s ``EnsembleSegmentor``; every model is
evaluated on toy target val (mIoU, ECE with 15 bins). The paper's self-supervised round (training
on the ensemble's pseudo-labels) is not run here.

Prints mean and sample std over seeds of each member's and the ensemble's target mIoU / ECE and
their gain over the source-only model.

    python tools/benchmark/fda_mbt.py [--seeds 0 1 2] [--work-dir work_dirs/demo] [--data data/toy]
"""
import argparse
import functools
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import mmsfda  # noqa: E402,F401
from mmsfda.apis import (add_toy_run_options, evaluate_checkpoint,  # noqa: E402
                         read_cached_result, read_manifest, run_name, sha256_json,
                         shorten_schedule, train_config)
from mmsfda.utils import atomic_write  # noqa: E402
from mmsfda.utils.repo_tools import load_repo_tool  # noqa: E402

ENSEMBLE = 'configs/fda/fda-mbt-ensemble_deeplabv2_r18-tiny_toy-target-128x256.py'
#: member row name -> beta; beta 0.01 is the adaptation benchmark's FDA run (its config's beta)
MEMBERS = {'FDA (UDA)': None, 'FDA beta 0.05 (UDA)': 0.05, 'FDA beta 0.09 (UDA)': 0.09}
ENSEMBLE_ROW = 'FDA-MBT ensemble (UDA)'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/demo',
                   help="the adaptation benchmark's work dir (its source and FDA runs are reused)")
    p.add_argument('--data', default='data/toy',
                   help='toy benchmark root (generated here when missing)')
    add_toy_run_options(p)
    return p.parse_args(argv)


def evaluate_ensemble(work, members, data_root, adaptation):
    """Target-val mIoU/ECE of the ensemble of ``members`` (last checkpoints), cached in ``work``
    by the members' run keys, the dataset and the data."""
    dataset = dict(adaptation.TARGET_VAL, data_root=f'{data_root}/target')
    key = sha256_json(dict(members=[read_manifest(osp.dirname(c))['key'] for c in members],
                           dataset=dataset, n_bins=adaptation.N_BINS,
                           data=adaptation.toy_meta_hash(data_root)))
    result_file = osp.join(work, 'benchmark_result.json')
    cached = read_cached_result(result_file, key)
    if cached is not None:
        return cached
    os.makedirs(work, exist_ok=True)
    ckpt = osp.join(work, 'ensemble.pth')
    load_repo_tool('model_converters/make_ensemble').main(
        [ENSEMBLE, '--checkpoints', *members, '--out', ckpt])
    metrics = evaluate_checkpoint(ENSEMBLE, ckpt, osp.join(work, 'eval'), dataset=dataset,
                                  n_bins=adaptation.N_BINS)
    result = dict(key=key, mIoU=float(metrics['mIoU']), ECE=100 * float(metrics['ECE']),
                  checkpoint=ckpt)
    atomic_write(result_file, json.dumps(result, indent=1) + '\n')
    return result


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    adaptation = load_repo_tool('benchmark/adaptation')
    src_name, _, src_config = adaptation.SOURCES['r18-tiny']
    fda_config = next(b[2] for b in adaptation.BASELINES if b[0] == 'FDA (UDA)')
    n_train, n_val, h, w = args.toy_size
    adaptation.toy.generate(args.data, num_train=n_train, num_val=n_val, height=h, width=w,
                            progress=False)
    edit = None
    if args.quick:
        edit = functools.partial(shorten_schedule, iters=args.quick, image_size=(h, w))
    rows = [src_name, *MEMBERS, ENSEMBLE_ROW]
    results = {r: [] for r in rows}
    for seed in args.seeds:
        src_work = osp.join(args.work_dir, run_name(src_name, seed))
        src_ckpt = train_config(src_config, src_work, [f'randomness.seed={seed}'],
                                data_root=args.data, desc=f'{src_name} seed {seed}', edit=edit)
        results[src_name].append(adaptation.evaluate(src_work, src_ckpt, args.data, src_work,
                                                     seed))
        members = []
        for name, beta in MEMBERS.items():
            work = osp.join(args.work_dir, run_name(name, seed))
            opts = [f'randomness.seed={seed}', f'load_from={src_ckpt}']
            if beta is not None:
                opts.append(f'model.style_transfer.beta={beta}')
            ckpt = train_config(fda_config, work, opts, data_root=args.data,
                                desc=f'{name} seed {seed}', edit=edit)
            members.append(ckpt)
            results[name].append(adaptation.evaluate(work, ckpt, args.data, work, seed))
        results[ENSEMBLE_ROW].append(evaluate_ensemble(
            osp.join(args.work_dir, run_name(ENSEMBLE_ROW, seed)), members, args.data,
            adaptation))

    fmt, metric = adaptation.fmt, adaptation.metric
    base = metric(results[src_name], 'mIoU')
    lines = [f'FDA-MBT, toy target val, {len(args.seeds)} seed(s) {args.seeds}: mean ± std '
             '(last checkpoints; no self-supervised round)',
             '| model | target mIoU | gain over source-only | target ECE (%) |',
             '| --- | --- | --- | --- |']
    for row in rows:
        miou = metric(results[row], 'mIoU')
        gain = '' if row == src_name else fmt([m - b for m, b in zip(miou, base)])
        lines.append(f"| {row} | {fmt(miou)} | {gain} | {fmt(metric(results[row], 'ECE'))} |")
    text = '\n'.join(lines)
    atomic_write(osp.join(args.work_dir, 'benchmark_fda_mbt.md'), text + '\n')
    print(text)


if __name__ == '__main__':
    main()
