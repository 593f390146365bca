"""DiGA on the toy benchmark: warm-up variants, self-training rounds, DACS, dynamic selection.

For each seed, all on the network of the DiGA toy configs (toy DeepLabV2 + ProDA head):

* ``source-only``: plain CE on source, the warm-ups' schedule (300 iterations from scratch);
* ``warm-up, symmetric KD only (= DG warm-up)``: the second view is the photometric view
  (``translator=None``), source data only;
* ``warm-up, KD + cross-domain mixture (FDA view)``: the default warm-up;
* ``warm-up, KD + cross-domain mixture (learned translator view)``: the warm-up whose translated
  view comes from the toy MUNITLite (trained first, 500 iterations, on source and target train
  images; the warm-up itself reads source images only);
* ``self-training round 1 / round 2``: DiGA's self-training from the FDA-view warm-up (round 2
  relabels with the round-1 model);
* ``DACS``: the engine's DACS on the same network from the source-only model, as many iterations
  as the two self-training rounds.

Reported on target val (mean ± sample std over seeds), at the last iteration and at the oracle
validation (highest target-val mIoU among the run's validations, or among those of the round):
mIoU and ECE (%), both as the run's own validations logged them (``vis_data/scalars.json``).
Also, per round, the dynamic selection at the end of the round (the round's offline labels, the
last teacher and prototypes of the round) over the target train images: the share of pixels it
keeps and their precision against the target labels (a diagnostic; training never reads them),
beside the accuracy of the offline labels. With ``--shifts``, the source-only and the DG warm-up
models (last iteration) are evaluated on the other toy target shifts (unseen domains).

    python tools/benchmark/diga.py [--seeds 0 1 2] [--work-dir work_dirs/diga_bench]
                                   [--shifts colour-2 fog-2 ...] [--data data/toy]
                                   [--only RUN ... | --report-only]

Runs go through mmseg's own tools/train.py (``train_config``: finished runs are reused by
content, interrupted ones resume); seeds can run in separate processes (``--seeds 1``) and a last
call over all seeds only collects them (``--report-only``: never trains; a missing run is an
error naming it).
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path[:0] = [HERE, REPO]

from mmsfda.apis import evaluate_checkpoint, train_config  # noqa: E402
from mmsfda.apis.config_utils import sha256_file  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402

CFG = 'configs/diga/'
SOURCE = CFG + 'diga-source-only_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-128x256.py'
WARMUP_DG = CFG + 'diga-warmup-dg_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-128x256.py'
WARMUP = CFG + 'diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
SELFTRAIN = CFG + ('diga-selftrain_deeplabv2-proda_r18-tiny_1xb4-2x50_'
                   'toy-source-to-target-128x256.py')
DACS = CFG + 'dacs_deeplabv2-proda_r18-tiny_1xb4-100_toy-source-to-target-128x256.py'
TRANSLATOR = CFG + 'diga-translator_munit-lite-tiny_1xb2-500_toy-source-to-target-128x256.py'
WARMUP_TR = CFG + ('diga-warmup-translator_deeplabv2-proda_r18-tiny_1xb4-300_'
                   'toy-source-to-target-128x256.py')
ROWS = ['source-only', 'warm-up, symmetric KD only (= DG warm-up, no target data)',
        'warm-up, KD + cross-domain mixture (FDA view)',
        'warm-up, KD + cross-domain mixture (learned translator view)', 'self-training round 1',
        'self-training round 2', 'DACS (engine), from source-only']
TOY_ROOT = 'data/toy'


def fmt(values, digits=2):
    """``mean ± sample std`` of ``values``."""
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.{digits}f} ± {spread:.{digits}f}'


def validations(work_dir):
    """``[(iter, mIoU, ECE %)]`` of every validation the run logged, by iteration (a resumed run's
    later log wins)."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'mIoU' in rec and 'ECE' in rec:
                    out[int(rec['step'])] = (float(rec['mIoU']), 100 * float(rec['ECE']))
    if not out:
        raise FileNotFoundError(f'no validation in {work_dir}/*/vis_data/scalars.json')
    return [(k, *out[k]) for k in sorted(out)]


def last_and_oracle(records, begin=0, end=None):
    """Last and best-mIoU validations with ``begin < iter <= end``."""
    records = [r for r in records if r[0] > begin and (end is None or r[0] <= end)]
    last, best = records[-1], max(records, key=lambda r: r[1])
    return dict(last=dict(iter=last[0], mIoU=last[1], ECE=last[2]),
                oracle=dict(iter=best[0], mIoU=best[1], ECE=best[2]))


def selection_diagnostics(work_dir, round_idx, ckpt):
    """Dynamic selection at ``ckpt`` (teacher and prototypes) on the round's offline labels over
    the target train images: kept share, precision against the target labels, offline accuracy."""
    cache = osp.join(work_dir, f'selection_round_{round_idx}.json')
    key = sha256_file(ckpt)
    if osp.isfile(cache):
        with open(cache) as f:
            cached = json.load(f)
        if cached.get('checkpoint_sha256') == key:
            return cached
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmseg.registry import MODELS

    import mmsfda  # noqa: F401
    from mmsfda.datasets.pseudo_label_files import pseudo_label_paths, read_uint8_png
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(work_dir, 'config', osp.basename(SELFTRAIN)))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    loader = Runner.build_dataloader(cfg.train_cfg.label_dataloader)
    label_dir = osp.join(work_dir, 'pseudo_labels', f'round_{round_idx}')
    kept = correct = offline_correct = pixels = 0
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            samples = data['data_samples']
            offline = torch.stack([torch.from_numpy(read_uint8_png(
                pseudo_label_paths(label_dir, s.img_path)[0])).long() for s in samples])
            gt = torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()
            teacher = model.network_outputs(model.teacher, data['inputs'])
            pl = model.selector(offline, model.aux['prototypes'].probs(teacher.feats))
            valid = gt != 255
            sel = (pl.labels != 255) & valid
            kept += int(sel.sum())
            correct += int((sel & (pl.labels == gt)).sum())
            offline_correct += int((valid & (offline == gt)).sum())
            pixels += int(valid.sum())
    result = dict(kept_share=100 * kept / pixels, precision=100 * correct / max(kept, 1),
                  offline_accuracy=100 * offline_correct / pixels, checkpoint=ckpt,
                  checkpoint_sha256=key)
    atomic_write(cache, json.dumps(result))
    return result


def shift_metrics(config, ckpt, work, root):
    """mIoU / ECE (%) of ``ckpt`` on the target val of the toy data at ``root`` (cached)."""
    cache = osp.join(work, 'result.json')
    key = dict(checkpoint_sha256=sha256_file(ckpt), data=osp.abspath(root))
    if osp.isfile(cache):
        with open(cache) as f:
            cached = json.load(f)
        if all(cached.get(k) == v for k, v in key.items()):
            return cached
    m = evaluate_checkpoint(config, ckpt, work, dataset=dict(
        type='ToyCityDataset', data_root=f'{root}/target',
        data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
        pipeline=[dict(type='CheckedLoadImageFromFile'),
                  dict(type='CheckedLoadAnnotations', num_classes=10),
                  dict(type='PackSegInputs')]))
    result = dict(mIoU=float(m['mIoU']), ECE=100 * float(m['ECE']), **key)
    atomic_write(cache, json.dumps(result))
    return result


RUNS = ('source', 'warmup-dg', 'warmup', 'translator', 'warmup-translator', 'selftrain', 'dacs')
MAX_ITERS = {'source': 300, 'warmup-dg': 300, 'warmup': 300, 'translator': 500,
             'warmup-translator': 300, 'selftrain': 100, 'dacs': 100}


def train_runs(work, seed, root, only=RUNS, reuse=False, report_only=False):
    """Train the runs of one seed named in ``only`` (and what they start from); returns the final
    checkpoints of the runs trained or reused. ``report_only``: train nothing (a missing run is a
    ``FileNotFoundError`` naming it)."""
    common = [f'randomness.seed={seed}']
    ckpts = {}

    def train(name):
        if name in ckpts:
            return ckpts[name]
        if name == 'selftrain':
            # every checkpoint is kept: the selection diagnostic needs the round ends
            config, extra = SELFTRAIN, [f'load_from={train("warmup")}',
                                        'default_hooks.checkpoint.max_keep_ckpts=-1']
        elif name == 'dacs':
            config, extra = DACS, [f'load_from={train("source")}']
        elif name == 'warmup-translator':
            # the translator's checkpoint fills model.mixture.translator only
            config, extra = WARMUP_TR, [f'load_from={train("translator")}']
        else:
            config, extra = {'source': SOURCE, 'warmup-dg': WARMUP_DG, 'warmup': WARMUP,
                             'translator': TRANSLATOR}[name], []
        final = osp.join(work, name, f'iter_{MAX_ITERS[name]}.pth')
        if report_only and not osp.isfile(final):
            raise FileNotFoundError(
                f'--report-only: {final} is missing (run {name!r} of seed {seed} has not '
                f'finished); train it with --seeds {seed} --only {name}')
        if (reuse or report_only) and osp.isfile(final):
            # Reporting only: a finished run is taken as it is (its resolved config is in
            # <run>/config/); --only checks it against the current configs and retrains if needed.
            ckpts[name] = final
        else:
            ckpts[name] = train_config(config, osp.join(work, name), [*common, *extra],
                                       data_root=root, desc=f'{name}, seed {seed}')
        return ckpts[name]

    for name in only:
        train(name)
    return ckpts


def diga_seed(work_dir, seed, data, shifts, report_only=False):
    work = osp.join(work_dir, f'seed{seed}')
    root = None if osp.normpath(data) == TOY_ROOT else data
    ckpts = train_runs(work, seed, root, reuse=True, report_only=report_only)
    source, dg = ckpts['source'], ckpts['warmup-dg']
    st = validations(osp.join(work, 'selftrain'))
    round_end = 50
    rows = {
        ROWS[0]: last_and_oracle(validations(osp.join(work, 'source'))),
        ROWS[1]: last_and_oracle(validations(osp.join(work, 'warmup-dg'))),
        ROWS[2]: last_and_oracle(validations(osp.join(work, 'warmup'))),
        ROWS[3]: last_and_oracle(validations(osp.join(work, 'warmup-translator'))),
        ROWS[4]: last_and_oracle(st, 0, round_end),
        ROWS[5]: last_and_oracle(st, round_end),
        ROWS[6]: last_and_oracle(validations(osp.join(work, 'dacs'))),
    }
    st_dir = osp.join(work, 'selftrain')
    selection = [selection_diagnostics(st_dir, r,
                                       osp.join(st_dir, f'iter_{round_end * (r + 1)}.pth'))
                 for r in (0, 1)]
    shifted = {}
    for shift in shifts:
        shift_root = f'{data}_{shift}'
        if not osp.isdir(shift_root):
            raise FileNotFoundError(f'{shift_root} is missing: tools/make_toy_data.py --shift ...')
        for name, config, ckpt in (('source-only', SOURCE, source), ('DG warm-up', WARMUP_DG, dg)):
            shifted[(shift, name)] = shift_metrics(config, ckpt,
                                                   osp.join(work, f'eval_{name}_{shift}'.replace(
                                                       ' ', '-')), shift_root)
    return rows, selection, shifted


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/diga_bench')
    p.add_argument('--data', default='data/toy')
    p.add_argument('--shifts', nargs='*', default=[],
                   help='toy target shifts (folders <data>_<shift>) for the DG evaluation')
    p.add_argument('--only', nargs='+', choices=RUNS,
                   help='only train these runs (and what they start from), report nothing: '
                        'independent runs can train in parallel processes')
    p.add_argument('--report-only', action='store_true',
                   help='train nothing: the tables of the finished runs (a missing run is an '
                        'error naming it)')
    args = p.parse_args()
    if args.only and args.report_only:
        p.error('--only trains runs and --report-only trains nothing: give one of them')
    os.chdir(REPO)
    if args.only:
        for seed in args.seeds:
            root = None if osp.normpath(args.data) == TOY_ROOT else args.data
            train_runs(osp.join(args.work_dir, f'seed{seed}'), seed, root, args.only)
        return
    results, selections, shifted = {}, [], {}
    for seed in args.seeds:
        rows, selection, shift_rows = diga_seed(
            args.work_dir, seed, args.data, args.shifts, args.report_only)
        for k, v in rows.items():
            results.setdefault(k, []).append(v)
        selections.append(selection)
        for k, v in shift_rows.items():
            shifted.setdefault(k, []).append(v)

    lines = [f'toy benchmark, target val, seeds {args.seeds}: mean ± sample std',
             '| model | mIoU, last | ECE (%), last | mIoU, oracle | ECE (%), oracle | '
             'oracle iteration per seed |', '| --- | --- | --- | --- | --- | --- |']
    for name in ROWS:
        r = results[name]
        lines.append(f'| {name} | {fmt([x["last"]["mIoU"] for x in r])} | '
                     f'{fmt([x["last"]["ECE"] for x in r])} | '
                     f'{fmt([x["oracle"]["mIoU"] for x in r])} | '
                     f'{fmt([x["oracle"]["ECE"] for x in r])} | '
                     f'{", ".join(str(x["oracle"]["iter"]) for x in r)} |')
    lines += ['', 'dynamic selection at the end of each round, target train (diagnostic):', '',
              '| round | kept share (%) | precision of kept labels (%) | '
              'offline label accuracy (%) |', '| --- | --- | --- | --- |']
    for r in (0, 1):
        lines.append(f'| {r + 1} | {fmt([s[r]["kept_share"] for s in selections])} | '
                     f'{fmt([s[r]["precision"] for s in selections])} | '
                     f'{fmt([s[r]["offline_accuracy"] for s in selections])} |')
    if shifted:
        lines += ['', 'unseen toy target shifts (target val, last iteration):', '',
                  '| shift | model | mIoU | ECE (%) |', '| --- | --- | --- | --- |']
        for (shift, name), r in shifted.items():
            lines.append(f'| {shift} | {name} | {fmt([x["mIoU"] for x in r])} | '
                         f'{fmt([x["ECE"] for x in r])} |')
    table = '\n'.join(lines)
    print(table)
    os.makedirs(args.work_dir, exist_ok=True)
    seeds = '-'.join(map(str, args.seeds))
    atomic_write(osp.join(args.work_dir, f'benchmark_diga_seeds{seeds}.md'), table + '\n')


if __name__ == '__main__':
    main()
