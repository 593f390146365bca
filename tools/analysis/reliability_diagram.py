"""Draw reliability diagrams (accuracy per confidence bin, gap, confidence histogram, ECE).

Inputs are reliability JSON files written by ``CalibrationMetric(out_file=...)`` and/or models
(config + checkpoint) that are run on the config's test set (its val set if it has none) through
mmengine's Runner with ``CalibrationMetric`` as the test evaluator, so the binning is the metric's.
Several inputs give side-by-side panels plus an overlay panel, e.g. with and without the ECE loss::

    python tools/analysis/reliability_diagram.py --json ce.json ce_ece.json \
        --labels CE CE+ECE --out work_dirs/reliability.png
    python tools/analysis/reliability_diagram.py \
        --model cfg_ce.py ce.pth --model cfg_ece.py ece.pth --labels CE CE+ECE \
        --num-samples 50 --out work_dirs/reliability.png
"""
import argparse
import os.path as osp
import sys

try:
    import mmsfda  # noqa: F401
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmsfda  # noqa: F401

from mmsfda.visualization import load_reliability, plot_reliability  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw reliability diagrams.')
    parser.add_argument('--json', nargs='+', default=[], metavar='FILE',
                        help='reliability JSON files written by CalibrationMetric(out_file=...)')
    parser.add_argument('--model', nargs=2, action='append', default=[],
                        metavar=('CONFIG', 'CHECKPOINT'),
                        help='a config and its checkpoint to evaluate; repeat for several')
    parser.add_argument('--labels', nargs='+', default=None,
                        help='panel labels, JSON inputs first then models (default: file names)')
    parser.add_argument('--out', required=True, help='output PNG path')
    parser.add_argument('--title', default=None, help='figure title')
    parser.add_argument('--n-bins', type=int, default=15, help='bins when running a model')
    parser.add_argument('--ignore-index', type=int, default=255)
    parser.add_argument('--num-samples', type=int, default=None,
                        help='evaluate only the first N samples of the test set')
    parser.add_argument('--work-dir', default='work_dirs/reliability_diagram',
                        help='where model runs write logs and their reliability JSON')
    parser.add_argument('--no-overlay', action='store_true',
                        help='no overlay panel when there are several inputs')
    args = parser.parse_args(argv)
    if not args.json and not args.model:
        parser.error('give at least one --json or --model')
    num_inputs = len(args.json) + len(args.model)
    if args.labels is not None and len(args.labels) != num_inputs:
        parser.error(f'{len(args.labels)} labels for {num_inputs} inputs')
    return args


def evaluate_model(config: str, checkpoint: str, work_dir: str, n_bins: int = 15,
                   ignore_index: int = 255, num_samples=None) -> dict:
    """Run ``checkpoint`` on the config's test (or val) set; return the reliability dict."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(config)
    if cfg.get('test_dataloader') is None:
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_cfg = dict(type='TestLoop')
    if num_samples is not None:
        cfg.test_dataloader.dataset.indices = num_samples
    json_path = osp.join(work_dir, 'reliability.json')
    cfg.test_evaluator = dict(
        type='CalibrationMetric', n_bins=n_bins, ignore_index=ignore_index, out_file=json_path)
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    Runner.from_cfg(cfg).test()
    return load_reliability(json_path)


def main(argv=None):
    args = parse_args(argv)
    names = [osp.splitext(osp.basename(p))[0] for p in args.json]
    names += [osp.splitext(osp.basename(ckpt))[0] for _, ckpt in args.model]
    labels = args.labels or names
    if len(set(labels)) != len(labels):
        labels = [f'{i}: {label}' for i, label in enumerate(labels)]

    curves = {}
    for label, path in zip(labels, args.json):
        curves[label] = load_reliability(path)
    for i, (label, (config, ckpt)) in enumerate(zip(labels[len(args.json):], args.model)):
        work_dir = osp.join(args.work_dir, f'{i}_{osp.splitext(osp.basename(ckpt))[0]}')
        curves[label] = evaluate_model(config, ckpt, work_dir, args.n_bins, args.ignore_index,
                                       args.num_samples)
        print(f'{label}: ECE {curves[label]["ECE"]:.4f}, reliability data in {work_dir}')
    plot_reliability(curves, args.out, title=args.title,
                     overlay=False if args.no_overlay else None)
    print(f'reliability diagram written to {args.out}')


if __name__ == '__main__':
    main()
