"""UPLR's per-class 2-component GMMs: the batched EM (all classes in one tensor program) against a
per-class loop of scikit-learn's GaussianMixture, same data, same initial parameters, same run.

Data: ``--classes`` classes of ``--pixels`` uncertainties each (seeded; per class a certain and an
uncertain mode with class-specific means, spreads and proportions, clipped to [0, 1], as the
normalised entropies of a segmentation model). Both fit from :func:`initial_parameters` (uniform
weights) with scikit-learn's stopping rule (``tol``, ``max_iter``). Reports the wall time of each
(the batched one synchronised on the device), the speed-up, the largest parameter differences, the
iteration counts and the share of pixels whose component assignment differs.

    python tools/benchmark/gmm.py [--classes 19] [--pixels 2000000] [--device cuda|cpu]
                                  [--dtype float32|float64]

scikit-learn is a test/benchmark dependency only (requirements/tests.txt).
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmsfda.models.pseudo_labelers.gmm_em import (fit_gmm_1d, initial_parameters,  # noqa: E402
                                                  log_posterior)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--classes', type=int, default=19)
    p.add_argument('--pixels', type=int, default=2_000_000, help='pixels per class')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dtype', choices=('float32', 'float64'), default='float32')
    p.add_argument('--tol', type=float, default=1e-3)
    p.add_argument('--max-iter', type=int, default=100)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def make_data(classes, pixels, seed):
    """[classes, pixels] float64 uncertainties in [0, 1]."""
    g = np.random.default_rng(seed)
    rows = []
    for _ in range(classes):
        frac = g.uniform(0.5, 0.9)
        lo, hi = g.uniform(0.02, 0.15), g.uniform(0.35, 0.7)
        k = int(pixels * frac)
        row = np.concatenate([g.normal(lo, g.uniform(0.01, 0.05), k),
                              g.normal(hi, g.uniform(0.05, 0.15), pixels - k)])
        rows.append(np.clip(row, 0.0, 1.0))
    return np.stack(rows)


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def main(argv=None):
    args = parse_args(argv)
    from sklearn.mixture import GaussianMixture  # test/benchmark dependency only
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    data = make_data(args.classes, args.pixels, args.seed)
    x = torch.from_numpy(data).to(device=device, dtype=dtype)
    init = initial_parameters(torch.from_numpy(data))  # float64, shared by both
    # warm-up (kernels, allocator) on a slice
    fit_gmm_1d(x[:, :1000], init=init, tol=args.tol, max_iter=2)
    sync(device)
    t0 = time.perf_counter()
    ours = fit_gmm_1d(x, init=init, tol=args.tol, max_iter=args.max_iter)
    sync(device)
    t_batched = time.perf_counter() - t0
    assign = log_posterior(x, ours).argmax(-1).cpu().numpy()

    t0 = time.perf_counter()
    fits = []
    for c in range(args.classes):
        w, mu, var = (t[c].numpy() for t in init)
        fits.append(GaussianMixture(2, weights_init=w, means_init=mu[:, None],
                                    precisions_init=(1 / var)[:, None, None], tol=args.tol,
                                    max_iter=args.max_iter).fit(data[c][:, None]))
    t_loop = time.perf_counter() - t0

    sk_means = np.stack([f.means_.ravel() for f in fits])
    sk_vars = np.stack([f.covariances_.ravel() for f in fits])
    sk_w = np.stack([f.weights_ for f in fits])
    sk_iter = np.array([f.n_iter_ for f in fits])
    differ = sum(int((f.predict(data[c][:, None]) != assign[c]).sum()) for c, f in enumerate(fits))
    n = args.classes * args.pixels
    dev = str(device) if device.type == 'cpu' else torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    print(f'{args.classes} classes x {args.pixels} pixels, batched EM on {dev} ({args.dtype}, '
          f'{threads} torch threads) vs scikit-learn GaussianMixture per class (float64)')
    print('| | batched EM (ours) | scikit-learn loop |')
    print('| --- | --- | --- |')
    print(f'| wall time (s) | {t_batched:.2f} | {t_loop:.2f} |')
    print(f'| EM iterations per class | {ours.n_iter.cpu().tolist()} | {sk_iter.tolist()} |')
    print(f'speed-up: {t_loop / t_batched:.1f}x')
    print(f'max |mean diff| {np.abs(ours.means.cpu().double().numpy() - sk_means).max():.2e}, '
          f'max |var diff| {np.abs(ours.variances.cpu().double().numpy() - sk_vars).max():.2e}, '
          f'max |weight diff| {np.abs(ours.weights.cpu().double().numpy() - sk_w).max():.2e}')
    print(f'assignments differing: {differ} of {n} pixels ({differ / n:.2e})')


if __name__ == '__main__':
    main()
