"""UPLR on the toy benchmark: the ablation in the order of the paper's Table 3, beside DACS and CBST,
and the quality of the GMM pseudo-labels against CBST's at equal coverage.

Rows (each from the toy source model of its seed; the AA rows are the stage-1 config with parts
switched off, 300 iterations each; UPST is the stage-2 config from the +TGAA model):

    source-only | +AA (AdvEnt) | +IT (FDA) | +SR (soft-balance sampling) | +TGAA (rectifier)
    | +UPST (GMM self-training, 2 rounds of 200) | DACS | CBST

Target-val mIoU and ECE (15 bins) of the last checkpoint and of the oracle checkpoint (the best
target-val mIoU among the run's kept checkpoints), mean and sample std over seeds. The source,
DACS and CBST runs are the finished runs of tools/benchmark/adaptation.py in ``--reuse-dir``
(same run names; evaluated here with the same protocol), never retrained here (missing ones: -);
every UPLR row starts from that source checkpoint of its seed.

Labels (``--labels``, first seed): the +TGAA model labels target train; per class, the GMM
labels' precision and coverage against the hidden target labels, and CBST's (the most confident
pixels of each predicted class) at the same per-class coverage.

    python tools/benchmark/uplr.py [--seeds 0 1 2] [--work-dir work_dirs/bench_uplr] [--labels]
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import mmsfda  # noqa: E402,F401
from mmsfda.apis import finished_run, read_manifest, run_name, train_config  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402
from mmsfda.utils.repo_tools import load_repo_tool  # noqa: E402

adaptation = None  # tools/benchmark/adaptation.py, loaded in main()

S1 = 'configs/uplr/uplr-s1-aa_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
S2 = 'configs/uplr/uplr-s2-st_deeplabv2_r18-tiny_1xb4-2x200_toy-target-128x256.py'
UNIFORM = dict(type='InfiniteSampler', shuffle=True)


def _variant(rectifier=None, fda=False, soft_balance=False):
    def edit(cfg):
        cfg.model.rectifier = rectifier
        if not fda:
            cfg.model.style_transfer = None
        if not soft_balance:
            cfg.train_dataloader.sampler = dict(UNIFORM)
    return edit


#: (row, edit of the stage-1 config); each row adds one part to the previous one.
AA_ROWS = [
    ('+AA (AdvEnt)', _variant()),
    ('+IT (FDA)', _variant(fda=True)),
    ('+SR (soft-balance)', _variant(fda=True, soft_balance=True)),
    ('+TGAA (rectifier)', None),  # the stage-1 config as it is
]
UPST = '+UPST (GMM ST)'
ROW_KEYS = dict(zip(('aa', 'it', 'sr', 'tgaa'), (r for r, _ in AA_ROWS)), upst=UPST)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/bench_uplr')
    p.add_argument('--reuse-dir', default='work_dirs/bench_adaptation',
                   help="tools/benchmark/adaptation.py's work dir: its finished source, DACS and "
                        'CBST runs are reused (evaluated here), never retrained')
    p.add_argument('--data', default='data/toy')
    p.add_argument('--labels', action='store_true', help='also the label-quality table')
    p.add_argument('--only', nargs='+', choices=('aa', 'it', 'sr', 'tgaa', 'upst'),
                   help='train only these UPLR rows (other rows: cached results only); several '
                        'processes with different --only fill one work dir in parallel')
    p.add_argument('--report-only', action='store_true')
    return p.parse_args(argv)


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    a = np.asarray(values, dtype=float)
    sd = f' ± {a.std(ddof=1):.2f}' if len(a) > 1 else ''
    return f'{a.mean():.2f}{sd} (n={len(a)})'


def table(results, rows, seeds):
    lines = [f'toy target val, seeds {seeds}: mean ± sample std (n = seeds measured)',
             '| row | mIoU last | mIoU oracle | ECE (%) last | ECE (%) oracle |',
             '| --- | --- | --- | --- | --- |']
    for row in rows:
        res = [r for r in results.get(row, []) if r is not None]
        lines.append(f'| {row} | ' + ' | '.join(
            fmt([r[k] for r in res]) for k in ('mIoU', 'oracle_mIoU', 'ECE', 'oracle_ECE')) + ' |')
    return '\n'.join(lines)


def label_quality(config, ckpt, data_root, labeler_cfg):
    """Per class: GMM labels' precision / coverage, CBST's precision at the same coverage."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner, load_checkpoint
    from mmseg.registry import MODELS

    from mmsfda.engine.pseudo_labeling import _batched, _Labeller, label_dataloader_cfg
    from mmsfda.models.pseudo_labelers.class_uncertainty import pixel_uncertainty

    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    num_classes = model.num_classes
    loader_cfg = label_dataloader_cfg(cfg.default_hooks.class_uncertainty.dataloader)
    loader_cfg['dataset'] = dict(loader_cfg['dataset'], data_root=f'{data_root}/target',
                                 data_prefix=dict(img_path='images/train',
                                                  seg_map_path='labels/train'),
                                 pipeline=[dict(type='CheckedLoadImageFromFile'),
                                           dict(type='CheckedLoadAnnotations',
                                                num_classes=num_classes),
                                           dict(type='PackSegInputs')])
    loader = Runner.build_dataloader(loader_cfg)
    labeler = MODELS.build(dict(labeler_cfg, num_classes=num_classes))
    job = _Labeller(model, loader, None, labeler, None, 0, False)
    pred, conf, unc, correct = [], [], [], []
    with torch.no_grad():
        labeler.reset_stats()
        for data in loader:
            probs, contexts, samples = job.outputs(data)
            for p, s in zip(probs, samples):
                gt = s.gt_sem_seg.data[0]
                p = p[None]
                labeler.accumulate(p)
                ok = gt != 255
                c, a = p.max(1)
                pred.append(a[0][ok])
                conf.append(c[0][ok])
                unc.append(pixel_uncertainty(p)[0][ok])
                correct.append((a[0] == gt)[ok])
        labeler.finalize()
    pred, conf, unc, correct = map(torch.cat, (pred, conf, unc, correct))
    keep = labeler.certain(pred, unc)
    rows = []
    for c in range(num_classes):
        m = pred == c
        n = int(m.sum())
        k = int((keep & m).sum())
        if n == 0:
            rows.append((c, 0, None, None, None))
            continue
        gmm_prec = float(correct[keep & m].float().mean()) if k else None
        top = conf[m].argsort(descending=True)[:k]
        cb_prec = float(correct[m][top].float().mean()) if k else None
        rows.append((c, n, k / n, gmm_prec, cb_prec))
    names = cfg.get('metainfo', {}).get('classes') if cfg.get('metainfo') else None
    names = names or list(loader.dataset.metainfo['classes'])
    from mmsfda.models.pseudo_labelers.gmm_labeler import STATUS
    return [dict(cls=names[c], predicted_pixels=n, coverage=cov, gmm_precision=gp,
                 cbst_precision=cp, status=STATUS[int(labeler.status[c])])
            for c, n, cov, gp, cp in rows]


def label_table(rows):
    lines = ['| class | predicted pixels | GMM coverage | GMM precision | CBST precision at '
             'equal coverage | fit |', '| --- | --- | --- | --- | --- | --- |']

    def pct(v):
        return '-' if v is None else f'{100 * v:.1f}'
    for r in rows:
        lines.append(f"| {r['cls']} | {r['predicted_pixels']} | {pct(r['coverage'])} | "
                     f"{pct(r['gmm_precision'])} | {pct(r['cbst_precision'])} | {r['status']} |")
    return '\n'.join(lines)


def main(argv=None):
    global adaptation
    args = parse_args(argv)
    os.chdir(REPO)
    adaptation = load_repo_tool('benchmark/adaptation')
    src_name = adaptation.SOURCE[0]
    reused = [src_name, 'DACS (UDA)', 'CBST (SFDA)']
    rows = [src_name] + [r for r, _ in AA_ROWS] + [UPST] + reused[1:]
    results = {r: [] for r in rows}
    trained = {ROW_KEYS[k] for k in (args.only or ROW_KEYS)} if not args.report_only else set()

    def run(row, *a, **kw):
        return (train_config if row in trained else finished_run)(*a, **kw)
    os.makedirs(args.work_dir, exist_ok=True)

    def record(row, work, ckpt, train_work, seed):
        cached_only = args.report_only or (row in ROW_KEYS.values() and row not in trained)
        results[row].append(adaptation.evaluate(work, ckpt, args.data, train_work, seed,
                                                cached_only))
        if not args.only:
            atomic_write(osp.join(args.work_dir, 'benchmark_uplr.md'),
                         table(results, rows, args.seeds) + '\n')

    for seed in args.seeds:
        opts = [f'randomness.seed={seed}']
        # Source, DACS and CBST: the finished runs of tools/benchmark/adaptation.py (their final
        # checkpoint, every kept checkpoint for the oracle), evaluated here with the same protocol.
        ckpts = {}
        for name in reused:
            train_work = osp.join(args.reuse_dir, run_name(name, seed))
            manifest = read_manifest(train_work)
            ckpt = None
            if manifest is not None:
                ckpt = osp.join(train_work, f'iter_{manifest["max_iters"]}.pth')
                ckpt = ckpt if osp.isfile(ckpt) else None
            ckpts[name] = ckpt
            if ckpt is None:
                print(f'[uplr] no finished run in {train_work}: row {name} seed {seed} is -')
            record(name, osp.join(args.work_dir, run_name(name, seed)), ckpt, train_work, seed)
        src = ckpts[src_name]
        tgaa = None
        for row, edit in AA_ROWS:
            work = osp.join(args.work_dir, run_name(f'uplr {row}', seed))
            ckpt = run(row, S1, work, opts + [f'load_from={src}'], data_root=args.data,
                       edit=edit) if src else None
            record(row, work, ckpt, work, seed)
            tgaa = (work, ckpt)
        work = osp.join(args.work_dir, run_name(f'uplr {UPST}', seed))
        ckpt = run(UPST, S2, work, opts + [f'load_from={tgaa[1]}'], data_root=args.data) \
            if tgaa[1] else None
        record(UPST, work, ckpt, work, seed)
    text = table(results, rows, args.seeds)
    if args.only:  # a partial process: the table is written by a full or report-only run
        print(text)
        return
    if args.labels and not args.report_only:
        seed = args.seeds[0]
        work = osp.join(args.work_dir, run_name(f'uplr {AA_ROWS[-1][0]}', seed))
        manifest = read_manifest(work)
        from mmengine.config import Config
        labeler = Config.fromfile(S2).model.pseudo_labeler.to_dict()
        lq = label_quality(manifest['resolved_config'], osp.join(work, 'iter_300.pth'),
                           args.data, labeler)
        text += (f'\n\nGMM labels of the +TGAA model (seed {seed}) on toy target train vs CBST '
                 'at equal per-class coverage (precision against the hidden labels, %):\n'
                 + label_table(lq))
        atomic_write(osp.join(args.work_dir, 'benchmark_uplr_labels.json'),
                     json.dumps(lq, indent=1) + '\n')
    atomic_write(osp.join(args.work_dir, 'benchmark_uplr.md'), text + '\n')
    print(text)


if __name__ == '__main__':
    main()
