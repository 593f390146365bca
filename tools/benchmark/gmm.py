"""UPLR's per-class 2-component GMMs: the batched EM (all classes in one tensor program) against a
per-class loop of scikit-learn's GaussianMixture, same data, same initial parameters, same run.

Data: ``--classes`` classes of ``--pixels`` uncertainties each (seeded; per class a certain and an
uncertain mode with class-specific means, spreads and proportions, clipped to [0, 1], as the
normalised entropies of a segmentation model). Both fit from :func:`initial_parameters` (uniform
weights) with scikit-learn's stopping rule (``tol``, ``max_iter``). Reports the wall time of each
(the batched one synchronised on the device), the speed-up, the largest parameter differences, the
iteration counts and the share of pixels whose component assignment differs.

A third column times what :class:`GMMLabeler` runs in a labelling round: the pixels streamed in
chunks of ``--chunk`` into its per-class histogram (``--bins`` bins on [0, 1]), then the batched EM
on the bin centres weighted by the counts (``finalize``); its mixtures are compared with
scikit-learn's on the raw values (they differ by the quantisation to ``1 / bins``).

    python tools/benchmark/gmm.py [--classes 19] [--pixels 2000000] [--device cuda|cpu]
                                  [--dtype float32|float64] [--bins 2048] [--chunk 1000000]

scikit-learn is a test/benchmark dependency only (requirements/tests.txt).
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmsfda.models.pseudo_labelers.gmm_em import (GMM1D, fit_gmm_1d,  # noqa: E402
                                                  initial_parameters, log_posterior)
from mmsfda.models.pseudo_labelers.gmm_labeler import GMMLabeler  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--classes', type=int, default=19)
    p.add_argument('--pixels', type=int, default=2_000_000, help='pixels per class')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dtype', choices=('float32', 'float64'), default='float32')
    p.add_argument('--tol', type=float, default=1e-3)
    p.add_argument('--max-iter', type=int, default=100)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--bins', type=int, default=2048, help="GMMLabeler's histogram bins")
    p.add_argument('--chunk', type=int, default=1_000_000,
                   help='pixels per streamed batch of the GMMLabeler column')
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


def fit_streamed(x, bins, chunk):
    """What :class:`GMMLabeler` does in a labelling round: stream the pixels of ``x`` [C, N] (row c
    predicted as class c) into its histogram in chunks of ``chunk`` pixels, then ``finalize``.
    Returns the labeler (fitted mixtures in ``gmm_*``, components sorted by mean)."""
    classes = x.shape[0]
    labeler = GMMLabeler(classes, bins=bins, top_k=min(5, classes)).to(x.device)
    labeler.histogram = labeler.histogram.to(x.dtype)  # the device's dtype (float32 on a GPU)
    pred = torch.arange(classes, device=x.device)[:, None].expand_as(x).reshape(-1)
    flat = x.reshape(-1)
    for start in range(0, flat.numel(), chunk):
        labeler.add_uncertainties(pred[start:start + chunk], flat[start:start + chunk])
    labeler.finalize()
    return labeler


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

    fit_streamed(x[:, :1000], args.bins, args.chunk)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    labeler = fit_streamed(x, args.bins, args.chunk)
    sync(device)
    t_streamed = time.perf_counter() - t0
    streamed = GMM1D(labeler.gmm_weights, labeler.gmm_means, labeler.gmm_variances,
                     *(None, ) * 3)
    assign_streamed = log_posterior(x.double(), streamed).argmax(-1).cpu().numpy()

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
    sk_assign = np.stack([f.predict(data[c][:, None]) for c, f in enumerate(fits)])
    differ = int((sk_assign != assign).sum())
    # The labeler orders components by mean (certain first); align scikit-learn's to compare.
    order = np.argsort(sk_means, axis=1)
    sk_sorted = [np.take_along_axis(a, order, 1) for a in (sk_means, sk_vars, sk_w)]
    rank = np.argsort(order, axis=1)  # component index -> its position by mean
    differ_streamed = int((np.take_along_axis(rank, sk_assign, 1) != assign_streamed).sum())
    n = args.classes * args.pixels
    dev = str(device) if device.type == 'cpu' else torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    print(f'{args.classes} classes x {args.pixels} pixels, batched EM on {dev} ({args.dtype}, '
          f'{threads} torch threads) vs scikit-learn GaussianMixture per class (float64)')
    print(f'| | batched EM on the pixels (ours) | GMMLabeler: {args.bins}-bin histogram streamed '
          f'+ batched EM (ours) | scikit-learn loop |')
    print('| --- | --- | --- | --- |')
    print(f'| wall time (s) | {t_batched:.2f} | {t_streamed:.2f} | {t_loop:.2f} |')
    print(f'| speed-up over the scikit-learn loop | {t_loop / t_batched:.1f}x | '
          f'{t_loop / t_streamed:.1f}x | 1.0x |')

    def diffs(weights, means, variances, ref):
        return ' / '.join(f'{np.abs(a.cpu().double().numpy() - b).max():.1e}'
                          for a, b in zip((means, variances, weights), ref))

    print(f'| max abs diff to scikit-learn (means / variances / weights) | '
          f'{diffs(ours.weights, ours.means, ours.variances, (sk_means, sk_vars, sk_w))} | '
          f'{diffs(labeler.gmm_weights, labeler.gmm_means, labeler.gmm_variances, sk_sorted)} '
          f'| - |')
    print(f'| assignments differing from scikit-learn | {differ} of {n} ({differ / n:.1e}) | '
          f'{differ_streamed} of {n} ({differ_streamed / n:.1e}) | - |')
    print(f'| EM iterations per class | {ours.n_iter.cpu().tolist()} | - | {sk_iter.tolist()} |')


if __name__ == '__main__':
    main()
