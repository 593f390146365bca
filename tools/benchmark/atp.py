"""ATP on the toy benchmark: Align -> Teach -> Propagate, the black-box pipeline, ablations.

For each seed, from the source-only model of ``tools/benchmark/adaptation.py`` (its run cache:
the same source run is reused, not retrained):

* ATP: A (curriculum entropy, classifier frozen) -> T (offline rounds, positive + negative
  pseudo-labels) -> P (entropy split, easy -> hard ClassMix, prototype contrast), each stage from
  the previous stage's last checkpoint (as ``configs/atp/stages_toy.py``);
* ablations: A with plain entropy (rho = 1 throughout) instead of the curriculum; T without the
  negative labels; T on the clean target image instead of the strong view; P with DAFormer's
  warmed-up EMA teacher (the public code's) instead of one anchored to T; T in the public code's
  form (EMA teacher, class-balanced crops relabelled, every argmax label); each from the same
  starting checkpoint as the default;
* black-box: ``tools/atp_black_box_predictions.py`` writes the source model's predictions on the
  target train images (float16 probabilities), a fresh model is distilled from those files alone
  (KL), then A -> T -> P (as ``configs/atp/stages_black_box_toy.py``, whose A adds the diversity
  term, whose T labels half of each class's pixels from the first round and whose P keeps
  DAFormer's warmed-up teacher); ablations: A without the diversity term (the white-box A), T with
  the white-box label shares, P with the teacher anchored to T (the white-box default);
* baselines, from their cached runs (``--baseline-work-dir``, the adaptation benchmark's):
  source-only, TENT, SHOT-IM; and Cal-SFDA from ``tools/benchmark/calsfda.py``'s runs
  (``--calsfda-work-dir``) when they exist (its own ECE-loss source model).

Reported on target val (mean ± sample std over seeds): mIoU and ECE (%) of the last iteration and
of the oracle checkpoint (the best target-val mIoU among the run's validations, which needs target
labels: an upper bound on checkpoint selection, not a usable rule).

    python tools/benchmark/atp.py [--seeds 0 1 2] [--work-dir work_dirs/bench_atp]
        [--baseline-work-dir work_dirs/bench_adaptation] [--calsfda-work-dir work_dirs/demo]
        [--parts atp ablations black-box]

Runs go through mmseg's tools/train.py and are cached by content (``train_config``); seeds can
run in separate processes and a last call over all seeds collects them (``--report-only``).
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
from mmengine.config import Config

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path[:0] = [HERE, osp.join(REPO, 'tools'), REPO]

from mmsfda.apis import finished_run, run_name, train_config  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402

TOY_ROOT = 'data/toy'
SOURCE = 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'
BASELINES = {
    'TENT': 'configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'SHOT-IM': 'configs/shot/shot-im_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
}
# Work-dir names of tools/benchmark/adaptation.py (run_name of its method names).
BASELINE_NAMES = {'source-only': 'source-only', 'TENT': 'TENT-sfda', 'SHOT-IM': 'SHOT-IM-sfda'}
ALIGN = 'configs/atp/atp-align_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
TEACH = 'configs/atp/atp-teach_deeplabv2_r18-tiny_1xb4-2x150_toy-source-to-target-128x256.py'
TEACH_PUBLIC = ('configs/atp/atp-teach-public_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-'
                '128x256.py')
PROPAGATE = 'configs/atp/atp-propagate_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
DISTILL = 'configs/atp/atp-distill_deeplabv2_r18-tiny_1xb4-800_toy-target-128x256.py'
PREDICT_TOOL = 'tools/atp_black_box_predictions.py'
STAGES = 'configs/atp/stages_toy.py'
BLACK_BOX_STAGES = 'configs/atp/stages_black_box_toy.py'


def fmt(values, digits=2):
    """``mean ± sample std`` of ``values`` ('-' if any is missing)."""
    if not values or any(v is None for v in values):
        return '-'
    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if len(values) > 1 else 0.
    return f'{values.mean():.{digits}f} ± {spread:.{digits}f}'


def validations(work_dir):
    """``{iter: (mIoU, ECE %)}`` of every target validation logged in ``work_dir`` (all of its
    runs, a resumed one included)."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'mIoU' in rec:
                    out[int(rec['step'])] = (float(rec['mIoU']), 100 * float(rec['ECE']))
    return out


def last_and_oracle(work_dir):
    """``(last, oracle)`` rows ``dict(mIoU, ECE, iter)`` of a run's validations."""
    vals = validations(work_dir)
    if not vals:
        return None, None
    last_it = max(vals)
    best_it = max(vals, key=lambda i: (vals[i][0], -i))
    row = lambda i: dict(mIoU=vals[i][0], ECE=vals[i][1], iter=i)  # noqa: E731
    return row(last_it), row(best_it)


def drop_negative_labels(cfg):
    """Teach without its negative-label loss (the ablation)."""
    cfg.model.target_losses = [t for t in cfg.model.target_losses
                               if t['type'] != 'NegativeLearningLoss']


def clean_view(cfg):
    """Teach on the clean target image, the labels' own view (the ablation)."""
    cfg.model.pop('strong_augment')


def plain_entropy(cfg):
    """Align with plain entropy on every pixel (rho = 1 throughout, the ablation)."""
    for t in cfg.model.target_losses:
        if t['type'] == 'CurriculumEntropyLoss':
            t.update(rho_0=1.0, schedule='constant')


def teacher_warmup(ramp):
    """Edit making Propagate's EMA teacher use DAFormer's 1 - 1/(t+1) warm-up (``ramp``: the
    public code's, the black-box default) or stay anchored to T (the white-box default)."""
    def edit(cfg):
        cfg.default_hooks.mean_teacher.ramp = ramp
    return edit


def stage_options(stages_file):
    """``{stage name: its cfg_options}`` of a stages file."""
    return {s['name']: list(s.get('cfg_options') or [])
            for s in Config.fromfile(stages_file).stages}


def chain(work, seed, start, root, run, prefix='', options=None):
    """A -> T -> P from ``start`` (``options``: per stage, as a stages file's ``cfg_options``);
    returns ``{stage: work dir}`` of the finished stages."""
    dirs, ckpt = {}, start
    for name, config in (('align', ALIGN), ('teach', TEACH), ('propagate', PROPAGATE)):
        d = osp.join(work, prefix + name)
        ckpt = run(config, d, [f'randomness.seed={seed}', f'load_from={ckpt}',
                               *(options or {}).get(name, [])], root, f'{prefix}{name} seed {seed}')
        if ckpt is None:
            break
        dirs[name] = d
    return dirs


def predictions(work, seed, source_ckpt, data, report_only):
    """The black-box prediction directory of the source model (written once)."""
    out = osp.join(work, 'black_box_predictions')
    done = osp.isfile(osp.join(out, 'meta.json'))
    if not done and not report_only:
        subprocess.run([sys.executable, PREDICT_TOOL, SOURCE, source_ckpt,
                        f'{data}/target/images/train', '--out', out, '--format', 'probs'],
                       check=True)
    return out if osp.isfile(osp.join(out, 'meta.json')) else None


def atp_seed(args, seed):
    """Every run of one seed; returns ``{row name: (last, oracle)}``."""
    root = None if osp.normpath(args.data) == TOY_ROOT else args.data
    opts = [f'randomness.seed={seed}']
    rows = {}

    def run(config, work_dir, options, data_root=root, desc=None, edit=None):
        if args.report_only:
            return finished_run(config, work_dir, options, data_root=data_root, edit=edit)
        return train_config(config, work_dir, options, desc=desc, data_root=data_root, edit=edit)

    # The baselines are read from their finished runs, never retrained here: their cache key
    # includes the resolved config text, which later edits of shared bases would change.
    base = args.baseline_work_dir
    src_dir = osp.join(base, run_name(BASELINE_NAMES['source-only'], seed))
    source_ckpt = osp.join(src_dir, 'iter_800.pth')
    if not osp.isfile(source_ckpt):
        raise FileNotFoundError(f'{source_ckpt} does not exist: run tools/benchmark/adaptation.py '
                                f'--seeds {seed} --work-dir {base} first')
    result_file = osp.join(src_dir, 'benchmark_result.json')
    if osp.isfile(result_file):  # the adaptation benchmark's evaluation on target val
        with open(result_file) as f:
            r = json.load(f)
        rows['source-only'] = (dict(mIoU=r['mIoU'], ECE=r['ECE']), None)
    for name in BASELINES:
        d = osp.join(base, run_name(BASELINE_NAMES[name], seed))
        if osp.isfile(osp.join(d, 'iter_300.pth')):
            rows[name] = last_and_oracle(d)
    calsfda = osp.join(args.calsfda_work_dir, run_name('Cal-SFDA', seed), 'stage3')
    if osp.isfile(osp.join(calsfda, 'checkpoint_selection.json')):
        rows['Cal-SFDA (its own ECE-loss source model)'] = last_and_oracle(calsfda)

    work = osp.join(args.work_dir, run_name('ATP', seed))
    if 'atp' in args.parts or 'ablations' in args.parts:
        dirs = chain(work, seed, source_ckpt, root, lambda c, d, o, r, desc: run(c, d, o, r, desc),
                     options=stage_options(STAGES))
        for name, d in dirs.items():
            rows[f'ATP after {name[0].upper()}'] = last_and_oracle(d)
    if 'ablations' in args.parts:
        d = osp.join(work, 'ablation_align_plain_entropy')
        if run(ALIGN, d, [*opts, f'load_from={source_ckpt}'], desc=f'A plain entropy {seed}',
               edit=plain_entropy):
            rows['ablation: A with plain entropy'] = last_and_oracle(d)
        align_ckpt = osp.join(work, 'align', 'iter_300.pth')
        if osp.isfile(align_ckpt):
            d = osp.join(work, 'ablation_teach_no_negatives')
            if run(TEACH, d, [*opts, f'load_from={align_ckpt}'], desc=f'T no negatives {seed}',
                   edit=drop_negative_labels):
                rows['ablation: T without negative labels'] = last_and_oracle(d)
            d = osp.join(work, 'variant_teach_public')
            if run(TEACH_PUBLIC, d, [*opts, f'load_from={align_ckpt}'],
                   desc=f'T public form {seed}'):
                rows["variant: T in the public code's form"] = last_and_oracle(d)
        teach_ckpt = osp.join(work, 'teach', 'iter_300.pth')
        if osp.isfile(teach_ckpt):
            d = osp.join(work, 'ablation_propagate_ramped_teacher')
            if run(PROPAGATE, d, [*opts, f'load_from={teach_ckpt}'],
                   desc=f'P ramped teacher {seed}', edit=teacher_warmup(True)):
                rows['ablation: P with the warmed-up EMA teacher'] = last_and_oracle(d)
        if osp.isfile(align_ckpt):
            d = osp.join(work, 'ablation_teach_clean_view')
            if run(TEACH, d, [*opts, f'load_from={align_ckpt}'], desc=f'T clean view {seed}',
                   edit=clean_view):
                rows['ablation: T on the clean target image'] = last_and_oracle(d)
    if 'black-box' in args.parts:
        pred_dir = predictions(work, seed, source_ckpt, args.data, args.report_only)
        if pred_dir is not None:
            d = osp.join(work, 'black_box_distill')
            ckpt = run(DISTILL, d, [*opts, f'train_dataloader.dataset.pipeline.1.pred_dir='
                                           f'{osp.abspath(pred_dir)}'],
                       desc=f'black-box distill seed {seed}')
            if ckpt is not None:
                rows['black-box: distilled'] = last_and_oracle(d)
                dirs = chain(work, seed, ckpt, root,
                             lambda c, d_, o, r, desc: run(c, d_, o, r, desc),
                             prefix='black_box_', options=stage_options(BLACK_BOX_STAGES))
                for name, d_ in dirs.items():
                    rows[f'black-box: after {name[0].upper()}'] = last_and_oracle(d_)
                d = osp.join(work, 'black_box_ablation_align_no_diversity')
                if run(ALIGN, d, [*opts, f'load_from={ckpt}'],
                       desc=f'black-box A without the diversity term {seed}'):
                    rows['black-box: after A without the diversity term (the white-box A)'] = \
                        last_and_oracle(d)
                black_box_align = osp.join(work, 'black_box_align', 'iter_300.pth')
                d = osp.join(work, 'black_box_ablation_teach_white_box_labels')
                if osp.isfile(black_box_align) and run(
                        TEACH, d, [*opts, f'load_from={black_box_align}'],
                        desc=f'black-box T with the white-box label shares {seed}'):
                    rows['black-box: after T with the white-box label shares (0.2 growing)'] = \
                        last_and_oracle(d)
                teach_ckpt = osp.join(work, 'black_box_teach', 'iter_300.pth')
                if osp.isfile(teach_ckpt):
                    d = osp.join(work, 'black_box_ablation_propagate_anchored_teacher')
                    if run(PROPAGATE, d, [*opts, f'load_from={teach_ckpt}'],
                           desc=f'black-box P anchored teacher {seed}', edit=teacher_warmup(False)):
                        rows['black-box: after P with the teacher anchored to T'] = \
                            last_and_oracle(d)
    return rows


ORDER = ['source-only', 'TENT', 'SHOT-IM', 'Cal-SFDA (its own ECE-loss source model)',
         'ATP after A', 'ATP after T', 'ATP after P', 'ablation: A with plain entropy',
         'ablation: T without negative labels', 'ablation: T on the clean target image',
         'ablation: P with the warmed-up EMA teacher', "variant: T in the public code's form",
         'black-box: distilled', 'black-box: after A',
         'black-box: after A without the diversity term (the white-box A)',
         'black-box: after T',
         'black-box: after T with the white-box label shares (0.2 growing)',
         'black-box: after P',
         'black-box: after P with the teacher anchored to T']


def table(results, seeds):
    lines = [f'toy benchmark, target val, seeds {seeds}: mean ± sample std (ECE in %)',
             '| model | last mIoU | last ECE | oracle mIoU | oracle ECE | oracle iteration per '
             'seed |', '| --- | --- | --- | --- | --- | --- |']
    for name in ORDER:
        if name not in results:
            continue
        per_seed = results[name]
        last = [None if r is None or r[0] is None else r[0] for r in per_seed]
        oracle = [None if r is None or r[1] is None else r[1] for r in per_seed]
        lines.append(
            f'| {name} | {fmt([x and x["mIoU"] for x in last])} | '
            f'{fmt([x and x["ECE"] for x in last])} | {fmt([x and x["mIoU"] for x in oracle])} | '
            f'{fmt([x and x["ECE"] for x in oracle])} | '
            + ', '.join('-' if x is None else str(x['iter']) for x in oracle) + ' |')
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/bench_atp')
    p.add_argument('--baseline-work-dir', default='work_dirs/bench_adaptation',
                   help="tools/benchmark/adaptation.py's work dir (source model, TENT, SHOT-IM)")
    p.add_argument('--calsfda-work-dir', default='work_dirs/demo',
                   help="tools/benchmark/calsfda.py's work dir (read only)")
    p.add_argument('--data', default=TOY_ROOT)
    p.add_argument('--parts', nargs='+', choices=('atp', 'ablations', 'black-box'),
                   default=['atp', 'ablations', 'black-box'])
    p.add_argument('--report-only', action='store_true',
                   help='train nothing: the table of the finished runs')
    args = p.parse_args()
    os.chdir(REPO)
    if not args.report_only:
        subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', args.data,
                        '--no-progress'], check=True)
    results = {}
    for i, seed in enumerate(args.seeds):
        for name, row in atp_seed(args, seed).items():
            results.setdefault(name, [None] * len(args.seeds))[i] = row
    text = table(results, args.seeds)
    tag = '_'.join(map(str, args.seeds))
    atomic_write(osp.join(args.work_dir, f'benchmark_atp_seeds{tag}.md'), text + '\n')
    atomic_write(osp.join(args.work_dir, f'benchmark_atp_seeds{tag}.json'),
                 json.dumps(dict(seeds=args.seeds, results=results), indent=1) + '\n')
    print(text)


if __name__ == '__main__':
    main()
