"""Two-component 1-D Gaussian mixtures fitted by EM, many at once (one per row of a tensor).

UPLR (Wang et al., ICCV 2021, "Uncertainty-aware Pseudo Label Refinery", the poster's UPST
formula) fits, for every class c, ``P_c(I) = w_0 N(I; mu_0, var_0) + w_1 N(I; mu_1, var_1)`` to the
uncertainties I of the pixels predicted as c. :func:`fit_gmm_1d` fits all classes in one tensor
program: row c of ``x`` [C, N] holds class c's values, ``weight`` [C, N] their multiplicities (a
0/1 mask for raw pixels of unequal counts, or histogram counts for binned values, which is how
:class:`GMMLabeler` streams a whole target set). No Python loop over classes.

The updates are scikit-learn's ``GaussianMixture(n_components=2, covariance_type='full')`` with
sample weights: the same E-step, ``nk + 10 * eps``, ``reg_covar`` added to each variance, and the
same stopping rule per row (the change of the mean log-likelihood below ``tol``; a converged row
is frozen while the others continue). Started from the same parameters, both reach the same
fixed point (tested against scikit-learn in tests/test_models/test_pseudo_labelers/test_gmm_em.py).
"""
import math
from typing import NamedTuple, Optional

import torch
from torch import Tensor

_LOG_2PI = math.log(2 * math.pi)


class GMM1D(NamedTuple):
    """Parameters of C two-component 1-D mixtures (one per row).

    Attributes:
        weights (Tensor): [C, 2] mixing weights (rows sum to 1).
        means (Tensor): [C, 2].
        variances (Tensor): [C, 2] (``reg_covar`` included).
        log_likelihood (Tensor): [C] mean log-likelihood per (weighted) sample at the last E-step.
        n_iter (Tensor): [C] int64, EM iterations run per row.
        converged (Tensor): [C] bool.
    """
    weights: Tensor
    means: Tensor
    variances: Tensor
    log_likelihood: Tensor
    n_iter: Tensor
    converged: Tensor


def gaussian_log_prob(x: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """``log N(x; mean_k, var_k)`` for both components.

    Args:
        x (Tensor): [C, N] values.
        means, variances (Tensor): [C, 2].

    Returns:
        Tensor: [C, N, 2].
    """
    diff = x.unsqueeze(-1) - means.unsqueeze(1)
    return -0.5 * (_LOG_2PI + variances.log().unsqueeze(1) + diff * diff / variances.unsqueeze(1))


def log_posterior(x: Tensor, gmm: GMM1D) -> Tensor:
    """Log responsibilities ``log p(k | x)`` [C, N, 2] of values ``x`` [C, N] under row c's
    mixture (the E-step)."""
    joint = gaussian_log_prob(x, gmm.means, gmm.variances) + gmm.weights.log().unsqueeze(1)
    return joint - torch.logsumexp(joint, dim=-1, keepdim=True)


def initial_parameters(x: Tensor, weight: Optional[Tensor] = None, spread: float = 1.0):
    """Deterministic start of EM: uniform mixing weights (UPLR's poster), means at
    ``mean -/+ spread * std`` of each row, both variances the row's variance.

    Args:
        x, weight (Tensor): [C, N] values and their weights (>= 0; None: all 1).
        spread (float): Distance of the initial means from the row mean, in standard deviations.

    Returns:
        tuple: weights [C, 2], means [C, 2], variances [C, 2].
    """
    weight = torch.ones_like(x) if weight is None else weight.to(x.dtype)
    total = weight.sum(1).clamp_min(torch.finfo(x.dtype).tiny)
    mean = (weight * x).sum(1) / total
    var = (weight * (x - mean[:, None]) ** 2).sum(1) / total
    std = var.sqrt()
    means = torch.stack([mean - spread * std, mean + spread * std], dim=1)
    return torch.full_like(means, 0.5), means, torch.stack([var, var], dim=1)


def fit_gmm_1d(x: Tensor,
               weight: Optional[Tensor] = None,
               init: Optional[tuple] = None,
               max_iter: int = 100,
               tol: float = 1e-3,
               reg_covar: float = 1e-6) -> GMM1D:
    """Fit a two-component Gaussian mixture to each row of ``x`` by EM (batched over rows).

    Args:
        x (Tensor): [C, N] values (rows padded to a common N; padding gets weight 0).
        weight (Tensor, optional): [C, N] non-negative sample weights; None: all 1. Rows whose
            weights sum to 0 return their initial parameters (``converged`` False); the caller
            decides what an empty row means (see :class:`GMMLabeler`'s fallbacks).
        init (tuple, optional): ``(weights, means, variances)``, each [C, 2]; default
            :func:`initial_parameters`.
        max_iter (int): At most this many EM iterations per row (scikit-learn's default 100).
        tol (float): A row stops when its mean log-likelihood changes by less than this.
        reg_covar (float): Added to every variance (scikit-learn's default 1e-6): a row of
            identical values gets variance ``reg_covar`` instead of 0.

    Returns:
        GMM1D: the fitted parameters in the dtype of ``x`` (use float64 for reference-grade fits;
        float32 is what a GPU benchmark runs).
    """
    if x.dim() != 2:
        raise ValueError(f'x must be [C, N], got shape {tuple(x.shape)}')
    if weight is None:
        weight = torch.ones_like(x)
    elif weight.shape != x.shape:
        raise ValueError(f'weight must have the shape of x {tuple(x.shape)}, got {tuple(weight.shape)}')
    weight = weight.to(x.dtype)
    if not bool(torch.isfinite(x[weight > 0]).all()):
        raise ValueError('fit_gmm_1d: x holds NaN or Inf values with a non-zero weight')
    if bool((weight < 0).any()):
        raise ValueError('fit_gmm_1d: weights must be non-negative')
    w, mu, var = initial_parameters(x, weight) if init is None else (t.to(x) for t in init)
    var = var.clamp_min(reg_covar)
    eps = 10 * torch.finfo(x.dtype).eps
    total = weight.sum(1)
    nonempty = total > 0
    total = total.clamp_min(torch.finfo(x.dtype).tiny)
    active = nonempty.clone()
    converged = torch.zeros_like(nonempty)
    n_iter = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    prev = torch.full_like(total, -math.inf)
    ll = prev.clone()
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        # E-step
        joint = gaussian_log_prob(x, mu, var) + w.log().unsqueeze(1)
        norm = torch.logsumexp(joint, dim=-1)  # [C, N]
        ll_new = (weight * norm).sum(1) / total
        resp = (joint - norm.unsqueeze(-1)).exp() * weight.unsqueeze(-1)  # [C, N, 2]
        # M-step (scikit-learn's: nk + 10 eps, reg_covar on the variance)
        nk = resp.sum(1) + eps
        mu_new = (resp * x.unsqueeze(-1)).sum(1) / nk
        diff = x.unsqueeze(-1) - mu_new.unsqueeze(1)
        var_new = (resp * diff * diff).sum(1) / nk + reg_covar
        w_new = nk / nk.sum(1, keepdim=True)
        upd = active.unsqueeze(1)
        mu, var, w = (torch.where(upd, mu_new, mu), torch.where(upd, var_new, var),
                      torch.where(upd, w_new, w))
        n_iter += active.long()
        ll = torch.where(active, ll_new, ll)
        done = active & ((ll_new - prev).abs() < tol)
        converged |= done
        active &= ~done
        prev = torch.where(active, ll_new, prev)
    return GMM1D(w, mu, var, ll, n_iter, converged)
