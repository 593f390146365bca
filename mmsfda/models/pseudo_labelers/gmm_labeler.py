"""UPLR's threshold-free pseudo-labels: a 2-component Gaussian mixture per class on pixel
uncertainties (UPST; Wang et al., ICCV 2021, the poster's formula U4)."""
import logging
from typing import Optional

import torch
from mmengine import dist
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor

from .base_pseudo_labeler import BasePseudoLabeler
from .class_uncertainty import ClassUncertainty
from .gmm_em import GMM1D, fit_gmm_1d, gaussian_log_prob
from .pseudo_labels import PseudoLabels

#: Per-class fit status (``GMMLabeler.status`` holds the index). Only ``'gmm'`` uses the mixture;
#: every other status labels with the fallback rule (see :class:`GMMLabeler`).
STATUS = ('gmm', 'empty', 'too_few', 'collapsed', 'single_mode')


@MODELS.register_module()
class GMMLabeler(BasePseudoLabeler):
    """Per class c, fit ``P_c(I) = w_0 N(mu_0, var_0) + w_1 N(mu_1, var_1)`` to the uncertainties
    ``I`` (normalised entropy) of the target pixels predicted as c; a pixel keeps its label c when
    the low-mean ("certain") component's posterior exceeds the other's, else it is ignored (255).
    No confidence threshold is set by hand (UPLR, ICCV 2021, UPST; the poster gives the rule and
    the uniform initial mixing weights).

    **Offline, streamed.** A two-pass labeler (``needs_statistics``): pass 1 (:meth:`accumulate`)
    adds every batch to a per-class histogram of uncertainties [C, ``bins``] and to the class
    uncertainty sums (:class:`ClassUncertainty`: ``I^c`` and ``S_k`` are recomputed every round);
    :meth:`finalize` all-reduces them over ranks and fits all C mixtures in one batched EM
    (:func:`fit_gmm_1d` on the bin centres weighted by the counts). The histogram is a sufficient
    statistic of the uncertainties quantised to ``1 / bins``: the whole target set is never in
    memory, and the fit differs from an EM on the raw values by at most the quantisation
    (tested against scikit-learn on the raw values).

    **Fallbacks** (explicit, per class, recorded in ``status`` and logged): a class with no pixel
    (``'empty'``), fewer than ``min_pixels`` (``'too_few'``), uncertainties of variance below
    ``min_variance`` (``'collapsed'``: e.g. constant), or a fit whose components are not separated
    (``'single_mode'``: Ashman's D = ``|mu_1 - mu_0| sqrt(2 / (var_0 + var_1))`` below
    ``min_separation``, or a component weight below ``min_weight``) labels its pixels whose
    uncertainty is at most the class mean ``I^c`` (an empty class has no pixel to label). Never NaN
    labels: pixels with non-finite probabilities are ignored.

    Args:
        num_classes (int): C.
        bins (int): Histogram bins on [0, 1]. Defaults to 2048.
        top_k (int): k of the uncertain classes ``S_k`` (recorded and logged). Defaults to 5.
        min_pixels (int): Fewer pixels of a class: fallback. Defaults to 50.
        min_variance (float, optional): Lower variance: fallback; None: ``(1 / bins) ** 2`` (all
            pixels within about one bin).
        min_separation (float): Ashman's D below this: fallback. Defaults to 1.0 ([U]).
        min_weight (float): A component weight below this: fallback. Defaults to 0.01.
        upper_guard (bool): Also require ``I <= mu_1`` (the uncertain mean) to keep a pixel: when
            the certain component is the wider one its posterior also wins on the far uncertain
            tail, which the rule does not mean to label ([U]). Defaults to True.
        max_iter, tol, reg_covar: EM settings (scikit-learn's defaults 100, 1e-3, 1e-6).
    """

    def __init__(self,
                 num_classes: int,
                 bins: int = 2048,
                 top_k: int = 5,
                 min_pixels: int = 50,
                 min_variance: Optional[float] = None,
                 min_separation: float = 1.0,
                 min_weight: float = 0.01,
                 upper_guard: bool = True,
                 max_iter: int = 100,
                 tol: float = 1e-3,
                 reg_covar: float = 1e-6):
        super().__init__()
        if bins < 2:
            raise ValueError(f'bins must be >= 2, got {bins}')
        self.num_classes = num_classes
        self.bins = bins
        self.min_pixels = min_pixels
        self.min_variance = (1.0 / bins) ** 2 if min_variance is None else float(min_variance)
        self.min_separation = min_separation
        self.min_weight = min_weight
        self.upper_guard = upper_guard
        self.max_iter, self.tol, self.reg_covar = max_iter, tol, reg_covar
        self.class_uncertainty = ClassUncertainty(num_classes, top_k)
        # The histogram is pass-1 scratch, not state: a round is labelled by the fitted mixtures.
        self.register_buffer('histogram', torch.zeros(num_classes, bins, dtype=torch.float64),
                             persistent=False)
        self.register_buffer('gmm_weights', torch.full((num_classes, 2), 0.5, dtype=torch.float64))
        self.register_buffer('gmm_means', torch.zeros(num_classes, 2, dtype=torch.float64))
        self.register_buffer('gmm_variances', torch.ones(num_classes, 2, dtype=torch.float64))
        self.register_buffer('status', torch.full((num_classes, ), STATUS.index('empty'),
                                                  dtype=torch.long))

    @property
    def needs_statistics(self) -> bool:
        return True

    def reset_stats(self) -> None:
        self.histogram.zero_()
        self.class_uncertainty.reset_stats()

    def _accumulate(self, probs: Tensor, valid: Tensor, **ctx) -> None:
        pred, unc, valid = self.class_uncertainty.split(probs, valid)
        self.add_uncertainties(pred[valid], unc[valid])

    def add_uncertainties(self, pred: Tensor, unc: Tensor) -> None:
        """Add pixels to pass 1's statistics: ``pred`` [N] int64 predicted classes, ``unc`` [N]
        their uncertainties in [0, 1] (what :meth:`accumulate` adds for each valid pixel)."""
        self.class_uncertainty.add(pred, unc)
        b = (unc * self.bins).long().clamp_(0, self.bins - 1)
        flat = torch.bincount(pred * self.bins + b, minlength=self.num_classes * self.bins)
        self.histogram += flat.view(self.num_classes, self.bins).to(self.histogram)

    def finalize(self) -> None:
        """Reduce the histograms over ranks, recompute ``I^c`` / ``S_k``, fit every class's
        mixture (one batched EM) and decide the fallbacks."""
        if dist.get_world_size() > 1:
            dist.all_reduce(self.histogram)
        self.class_uncertainty.finalize()
        x = self._centres().expand(self.num_classes, -1)
        gmm = fit_gmm_1d(x, self.histogram, max_iter=self.max_iter, tol=self.tol,
                         reg_covar=self.reg_covar)
        gmm = sort_components(gmm)
        self.gmm_weights.copy_(gmm.weights)
        self.gmm_means.copy_(gmm.means)
        self.gmm_variances.copy_(gmm.variances)
        self.status.copy_(self._status(gmm))
        self._log()

    def _centres(self) -> Tensor:
        """[bins] float64 centres of the histogram bins on [0, 1]."""
        return (torch.arange(self.bins, dtype=torch.float64, device=self.histogram.device)
                + 0.5) / self.bins

    def _status(self, gmm: GMM1D) -> Tensor:
        count = self.histogram.sum(1)
        centres = self._centres()[None]
        mean = (self.histogram * centres).sum(1) / count.clamp_min(1)
        var = (self.histogram * (centres - mean[:, None]) ** 2).sum(1) / count.clamp_min(1)
        ashman = (gmm.means[:, 1] - gmm.means[:, 0]).abs() * (
            2.0 / gmm.variances.sum(1)).sqrt()
        status = torch.full_like(count, STATUS.index('gmm'), dtype=torch.long)
        single = (ashman < self.min_separation) | (gmm.weights.min(1).values < self.min_weight)
        for name, cond in (('single_mode', single), ('collapsed', var < self.min_variance),
                           ('too_few', count < self.min_pixels), ('empty', count == 0)):
            status[cond] = STATUS.index(name)  # later conditions win: the most basic reason
        return status

    def _log(self) -> None:
        names = {s: [c for c in range(self.num_classes) if int(self.status[c]) == i]
                 for i, s in enumerate(STATUS) if s != 'gmm'}
        fallbacks = ', '.join(f'{s}: {ids}' for s, ids in names.items() if ids)
        print_log(f'GMMLabeler round {int(self.round)}: class uncertainty I^c '
                  f'{[round(float(v), 4) for v in self.class_uncertainty.values]}, S_k '
                  f'{self.class_uncertainty.uncertain_classes}; fallback classes: '
                  f'{fallbacks or "none"}', logger='current',
                  level=logging.WARNING if fallbacks else logging.INFO)

    def select(self, probs: Tensor, valid: Tensor, **ctx) -> PseudoLabels:
        pred, unc, _ = self.class_uncertainty.split(probs, valid)
        keep = self.certain(pred, unc)
        labels = torch.where(keep, pred, torch.full_like(pred, self.ignore_index))
        return PseudoLabels(labels, keep.float(), probs, extras=dict(prediction=pred,
                                                                     uncertainty=unc))

    def certain(self, pred: Tensor, unc: Tensor) -> Tensor:
        """[...] bool: whether each pixel (class ``pred``, uncertainty ``unc``, same shape) is in
        its class's certain mode (or passes the fallback rule)."""
        unc = unc.double()
        means, variances = self.gmm_means[pred], self.gmm_variances[pred]  # [..., 2]
        logw = self.gmm_weights[pred].clamp_min(1e-300).log()
        flat = unc.reshape(-1, 1)
        lp = gaussian_log_prob(flat, means.reshape(-1, 2), variances.reshape(-1, 2))[:, 0]
        lp = (lp + logw.reshape(-1, 2)).view(*unc.shape, 2)
        keep = lp[..., 0] > lp[..., 1]
        if self.upper_guard:
            keep &= unc <= means[..., 1]
        fallback = self.status[pred] != STATUS.index('gmm')
        # The fallback rule: at most the class mean (a tiny tolerance keeps constant classes).
        mean = self.class_uncertainty.values[pred]
        return torch.where(fallback, unc <= mean + 1e-9, keep)


def sort_components(gmm: GMM1D) -> GMM1D:
    """Order each row's components by mean: column 0 is the low-uncertainty (certain) mode."""
    order = gmm.means.argsort(dim=1)
    return gmm._replace(weights=gmm.weights.gather(1, order), means=gmm.means.gather(1, order),
                        variances=gmm.variances.gather(1, order))
