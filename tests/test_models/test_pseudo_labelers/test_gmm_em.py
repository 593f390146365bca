"""The batched 2-component EM against scikit-learn's GaussianMixture (a test-only dependency)."""
import numpy as np
import pytest
import torch

from mmsfda.models.pseudo_labelers.gmm_em import (fit_gmm_1d, initial_parameters,
                                                  log_posterior)

sklearn_mixture = pytest.importorskip('sklearn.mixture')


def _sklearn_fit(x, init, tol=1e-3, max_iter=100):
    w, mu, var = (t.numpy() for t in init)
    gm = sklearn_mixture.GaussianMixture(
        2, weights_init=w, means_init=mu[:, None], precisions_init=(1 / var)[:, None, None],
        tol=tol, max_iter=max_iter)
    return gm.fit(np.asarray(x)[:, None])


def _bimodal(g, n, lo=(0.1, 0.03), hi=(0.5, 0.1), frac=0.7):
    k = int(n * frac)
    return np.clip(np.concatenate([g.normal(*lo, k), g.normal(*hi, n - k)]), 0, 1)


def test_matches_sklearn_per_row_with_unequal_counts():
    """Rows of different sizes (padding weighted 0), synthetic and skewed entropy-like data:
    parameters within 1e-9, the same iteration counts and identical assignments."""
    g = np.random.default_rng(0)
    rows = [_bimodal(g, 900), _bimodal(g, 400, lo=(0.02, 0.01), hi=(0.3, 0.15), frac=0.9),
            g.beta(0.6, 4.0, 700)]  # real-looking: entropies of confident predictions
    n = max(len(r) for r in rows)
    x = torch.zeros(len(rows), n, dtype=torch.float64)
    w = torch.zeros_like(x)
    for i, r in enumerate(rows):
        x[i, :len(r)] = torch.from_numpy(r)
        w[i, :len(r)] = 1
    x[1, 400:] = 7.0  # padding values never matter
    init = initial_parameters(x, w)
    ours = fit_gmm_1d(x, w, init=init)
    post = log_posterior(x, ours).argmax(-1)
    for i, r in enumerate(rows):
        row_init = tuple(t[0] for t in initial_parameters(x[i:i + 1, :len(r)]))
        for a, b in zip(row_init, (t[i] for t in init)):
            torch.testing.assert_close(a, b)
        sk = _sklearn_fit(r, row_init)
        np.testing.assert_allclose(ours.means[i].numpy(), sk.means_.ravel(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.variances[i].numpy(), sk.covariances_.ravel(), rtol=0,
                                   atol=1e-9)
        np.testing.assert_allclose(ours.weights[i].numpy(), sk.weights_, rtol=0, atol=1e-9)
        assert int(ours.n_iter[i]) == sk.n_iter_ and bool(ours.converged[i]) == sk.converged_
        assert np.array_equal(post[i, :len(r)].numpy(), sk.predict(r[:, None]))


def test_histogram_fit_is_within_the_quantisation_of_the_raw_fit():
    """What GMMLabeler streams: counts on 2048 bins. Means within 1e-3, variances within 1e-4 and
    weights within 1e-3 of scikit-learn on the raw values (tolerance stated in the labeler)."""
    g = np.random.default_rng(1)
    r = _bimodal(g, 20000)
    bins = 2048
    hist = torch.from_numpy(np.bincount(np.minimum((r * bins).astype(int), bins - 1),
                                        minlength=bins).astype(np.float64))[None]
    centres = ((torch.arange(bins, dtype=torch.float64) + 0.5) / bins)[None]
    ours = fit_gmm_1d(centres, hist, tol=1e-6, max_iter=500)
    sk = _sklearn_fit(r, tuple(t[0] for t in initial_parameters(torch.from_numpy(r)[None])),
                      tol=1e-6, max_iter=500)
    np.testing.assert_allclose(ours.means[0].numpy(), sk.means_.ravel(), atol=1e-3)
    np.testing.assert_allclose(ours.variances[0].numpy(), sk.covariances_.ravel(), atol=1e-4)
    np.testing.assert_allclose(ours.weights[0].numpy(), sk.weights_, atol=1e-3)


def test_constant_and_empty_rows():
    x = torch.full((2, 10), 0.3, dtype=torch.float64)
    w = torch.ones_like(x)
    w[1] = 0
    fit = fit_gmm_1d(x, w)
    assert torch.isfinite(fit.means).all() and torch.isfinite(fit.variances).all()
    torch.testing.assert_close(fit.means[0], torch.full((2, ), 0.3, dtype=torch.float64))
    assert (fit.variances[0] >= 1e-6).all()  # reg_covar, never 0
    assert not bool(fit.converged[1]) and int(fit.n_iter[1]) == 0  # empty: untouched


def test_bad_input():
    x = torch.rand(2, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r'\[C, N\]'):
        fit_gmm_1d(x[0])
    bad = x.clone()
    bad[0, 1] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        fit_gmm_1d(bad)
    w = torch.ones_like(x)
    w[0, 1] = 0
    fit_gmm_1d(bad, w)  # a NaN with weight 0 is padding
    with pytest.raises(ValueError, match='non-negative'):
        fit_gmm_1d(x, -w)
