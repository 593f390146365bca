"""Class-balanced self-training pseudo-labels (CBST, Zou et al., ECCV 2018)."""
from typing import Optional

import torch
from mmengine import dist
from torch import Tensor

from mmseg.registry import MODELS
from .base_pseudo_labeler import BasePseudoLabeler
from .pseudo_labels import PseudoLabels

MODES = ('online', 'offline')


def quantile_per_class(conf: Tensor, pred: Tensor, num_classes: int, q: float):
    """Exact per-class quantile of the confidences, numpy's default ('linear') interpolation.

    One integer sort groups the values by class in ascending order: the key of a value is
    ``class << 32 | bits(conf)``, where the float32 bit pattern of a non-negative float orders
    like its value. Sorting int64 keys (radix sort on CPU) is about 9x faster than the two stable
    float64 argsorts it replaces, and the grouped values are the same float32 numbers, so the
    quantiles are bit-identical. Negative and NaN confidences are not ordered by their bits:
    they must not be passed (confidences are probabilities).

    Args:
        conf (Tensor): [N] confidences in [0, 1] (float32 or lower; compared as float32).
        pred (Tensor): [N] int64 classes in [0, num_classes).
        num_classes (int): C.
        q (float): quantile in [0, 1].

    Returns:
        tuple[Tensor, Tensor]: [C] float64 quantile of ``conf[pred == k]`` (0 for absent classes) and
        [C] int64 counts.
    """
    counts = torch.bincount(pred, minlength=num_classes)
    if conf.numel() == 0:
        return conf.new_zeros(num_classes, dtype=torch.float64), counts
    bits = conf.float().contiguous().view(torch.int32).long()
    keys = torch.sort((pred.long() << 32) | bits).values
    grouped = (keys & 0xFFFFFFFF).int().view(torch.float32).double()
    starts = torch.cumsum(counts, 0) - counts
    pos = q * (counts - 1).clamp(min=0).double()
    lo = pos.floor().long()
    hi = torch.minimum(lo + 1, (counts - 1).clamp(min=0))
    frac = pos - lo.double()
    last = grouped.numel() - 1
    v_lo = grouped[(starts + lo).clamp(max=last)]
    v_hi = grouped[(starts + hi).clamp(max=last)]
    values = v_lo + frac * (v_hi - v_lo)
    return torch.where(counts > 0, values, torch.zeros_like(values)), counts


def histogram_top_fraction_threshold(hist: Tensor, proportion: float):
    """Per-class threshold t_k keeping the top ``proportion`` of the class's confidences.

    The confidences of class k were binned into ``hist[k]`` (equal-width bins over [0, 1]). t_k is
    the (1 - proportion) quantile, located in its bin and linearly interpolated inside it (values
    assumed uniform within a bin), so it is within one bin width of the exact quantile.

    Args:
        hist (Tensor): [C, bins] counts.
        proportion (float): fraction in (0, 1] of each class's pixels to keep.

    Returns:
        tuple[Tensor, Tensor]: [C] float64 thresholds (0 for empty classes) and [C] int64 counts.
    """
    hist = hist.double()
    num_bins = hist.shape[1]
    counts = hist.sum(dim=1)
    keep = proportion * counts
    # above[k, j] = number of values of class k in bins >= j (non-increasing in j).
    above = hist.flip(1).cumsum(1).flip(1)
    # The bin holding the quantile: the last j with above[j] >= keep.
    j = ((above >= keep[:, None]).sum(dim=1) - 1).clamp(min=0)
    above_j = above.gather(1, j[:, None]).squeeze(1)
    in_bin = hist.gather(1, j[:, None]).squeeze(1)
    needed = keep - (above_j - in_bin)  # how many of the bin's values are kept, in (0, in_bin]
    frac = needed / in_bin.clamp(min=1.0)
    thresholds = (j.double() + 1.0 - frac) / num_bins
    thresholds = torch.where(counts > 0, thresholds.clamp(0.0, 1.0), torch.zeros_like(thresholds))
    return thresholds, counts.round().long()


@MODELS.register_module()
class ClassBalancedLabeler(BasePseudoLabeler):
    """Class-balanced pseudo-labels: the top ``proportion`` most confident pixels of every class.

    For class k, among the pixels whose argmax is k, the threshold theta_k is the (1 - proportion)
    quantile of their confidence q = max_c p_c (CBST's k-th largest confidence with
    k = proportion * n_k). A pixel is labelled y = argmax where q >= theta_y, else 255; labelled pixels
    have weight 1. Rare classes thus keep as large a share of their pixels as frequent ones.

    Modes:

    * ``'online'``: theta is computed exactly on each batch. With ``momentum`` m it is smoothed,
      theta <- (1 - m) * theta + m * theta_batch (the first batch where a class appears sets it), like
      BatchNorm: the running value is updated in training mode and used as is in eval mode. Classes
      absent from a batch keep their previous value.
    * ``'offline'``: theta comes from a pass over the whole target set: :meth:`reset_stats`, then
      :meth:`accumulate` on every batch, then :meth:`finalize`. Confidences are streamed into per-class
      histograms of ``num_bins`` equal-width bins (O(C x bins) memory), so theta is within
      1 / num_bins of the exact quantile. Labelling before :meth:`finalize` raises.

    ``thresholds`` (a buffer, [C]) holds the thresholds in use and is saved in checkpoints. A class
    never predicted in the statistics gets ``default_threshold`` (0.5 as in Cal-SFDA's ``gene_thres``).

    Rounds: CBST and Cal-SFDA keep a growing share of the pixels in later rounds. The proportion of
    round ``r`` is ``min(proportion + proportion_step * r, max_proportion)``;
    :func:`~mmsfda.engine.pseudo_labeling.label_dataset` calls :meth:`set_round` before it labels a
    round (the round is a buffer, saved with the model).

    Args:
        num_classes (int): C.
        proportion (float): fraction in (0, 1] of each class's pixels to keep. Default 0.2.
        mode (str): ``'online'`` or ``'offline'``. Default ``'online'``.
        momentum (float, optional): online mode only, weight of the batch thresholds in the running
            thresholds; None (default) uses each batch's thresholds alone.
        num_bins (int): offline mode, histogram bins over [0, 1]. Default 1000.
        default_threshold (float): threshold of a class without statistics. Default 0.5.
        proportion_step (float): increase of the proportion per round. Default 0 (CBST: 0.05).
        max_proportion (float): upper bound of the proportion. Default 1.0 (CBST: 0.5).

    Output ``thresholds`` [C]: the thresholds used (also in ``extras['thresholds']``). Extras:
    ``'confidence'`` [B, H, W],
    ``'prediction'`` [B, H, W] (the argmax).
    """

    def __init__(self,
                 num_classes: int,
                 proportion: float = 0.2,
                 mode: str = 'online',
                 momentum: Optional[float] = None,
                 num_bins: int = 1000,
                 default_threshold: float = 0.5,
                 proportion_step: float = 0.0,
                 max_proportion: float = 1.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if not 0.0 < proportion <= 1.0:
            raise ValueError(f'proportion must be in (0, 1], got {proportion}')
        if momentum is not None and (mode != 'online' or not 0.0 < momentum <= 1.0):
            raise ValueError('momentum must be None or in (0, 1], and only in online mode')
        self.num_classes = int(num_classes)
        self.proportion = float(proportion)
        self.mode = mode
        self.momentum = momentum
        self.num_bins = int(num_bins)
        self.default_threshold = float(default_threshold)
        if proportion_step < 0 or not proportion <= max_proportion <= 1.0:
            raise ValueError(f'need proportion_step >= 0 and proportion <= max_proportion <= 1, got '
                             f'{proportion_step}, {proportion} and {max_proportion}')
        self.proportion_step = float(proportion_step)
        self.max_proportion = float(max_proportion)
        self.register_buffer('thresholds', torch.full((num_classes, ), self.default_threshold))
        # Classes whose threshold came from statistics (the first online update sets, later ones blend).
        self.register_buffer('initialized', torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer('finalized', torch.zeros((), dtype=torch.bool))
        # Transient state of an offline pass: not saved (a pass starts with reset_stats()).
        self.register_buffer(
            'hist', torch.zeros(num_classes, self.num_bins, dtype=torch.long), persistent=False)

    # ----- rounds and offline statistics -------------------------------------------------------
    @property
    def needs_statistics(self) -> bool:
        """Offline mode: the thresholds come from a statistics pass over the whole set."""
        return self.mode == 'offline'

    @property
    def current_proportion(self) -> float:
        """The proportion of the current round: ``min(proportion + step * round, max)``."""
        return min(self.proportion + self.proportion_step * int(self.round), self.max_proportion)

    def reset_stats(self) -> None:
        """Start a statistics pass: clear the histograms."""
        self.hist.zero_()

    def _accumulate(self, probs: Tensor, valid: Tensor, **ctx) -> None:
        """Add a batch's confidences to the per-class histograms.

        Args:
            probs (Tensor): [B, C, H, W] teacher probabilities.
            valid (Tensor): [B, H, W] bool, pixels to count.
            **ctx: per-image context of the teacher (e.g. ``est_ece``), for
                :meth:`statistic_confidence`.
        """
        conf, pred = probs.max(dim=1)
        conf = self.statistic_confidence(conf, **ctx)
        valid = valid & torch.isfinite(conf)
        conf, pred = conf[valid].float(), pred[valid]
        bins = (conf * self.num_bins).long().clamp_(0, self.num_bins - 1)
        counts = torch.bincount(pred * self.num_bins + bins, minlength=self.num_classes * self.num_bins)
        self.hist += counts.view(self.num_classes, self.num_bins).to(self.hist.device)

    def statistic_confidence(self, conf: Tensor, **ctx) -> Tensor:
        """The confidence [B, H, W] whose per-class quantiles are the thresholds (here max p)."""
        return conf

    @torch.no_grad()
    def finalize(self) -> Tensor:
        """Set ``thresholds`` from the histograms (summed over ranks: every rank must call this).

        Returns:
            Tensor: [C] the new thresholds.
        """
        hist = self.hist.clone()
        dist.all_reduce(hist)
        values, counts = histogram_top_fraction_threshold(hist, self.current_proportion)
        present = counts > 0
        self.thresholds.copy_(torch.where(present, values.float(),
                                          torch.full_like(self.thresholds, self.default_threshold)))
        self.initialized.copy_(present)
        self.finalized.fill_(True)
        return self.thresholds.clone()

    # ----- labelling ----------------------------------------------------------------------------
    def _online_thresholds(self, conf: Tensor, pred: Tensor, valid: Tensor) -> Tensor:
        if not bool(valid.all()):  # a boolean gather copies: only when some pixel is invalid
            conf, pred = conf[valid], pred[valid]
        values, counts = quantile_per_class(conf.flatten(), pred.flatten(), self.num_classes,
                                            1.0 - self.current_proportion)

        present = counts > 0
        values = values.to(self.thresholds)
        if self.momentum is None:
            thresholds = torch.where(present, values, self.thresholds)
            if self.training:
                self.thresholds.copy_(thresholds)
                self.initialized |= present
            return thresholds
        if not self.training:
            return self.thresholds.clone()
        blended = (1.0 - self.momentum) * self.thresholds + self.momentum * values
        first = present & ~self.initialized
        self.thresholds.copy_(torch.where(first, values, torch.where(present, blended,
                                                                     self.thresholds)))
        self.initialized |= present
        return self.thresholds.clone()

    def select(self, probs: Tensor, valid: Tensor, **ctx) -> PseudoLabels:
        conf, pred = probs.max(dim=1)
        if self.mode == 'offline':
            if not bool(self.finalized):
                raise RuntimeError('ClassBalancedLabeler(mode="offline"): call reset_stats(), '
                                   'accumulate() and finalize() before labelling')
            thresholds = self.thresholds.clone()
        else:
            thresholds = self._online_thresholds(conf, pred, valid)
        thresholds = thresholds.to(conf.device)
        keep = valid & (conf.float() >= thresholds.float()[pred])
        labels = pred.masked_fill(~keep, self.ignore_index)
        return PseudoLabels(labels=labels, weights=keep.float(), probs=probs, thresholds=thresholds,
                            extras=dict(thresholds=thresholds, confidence=conf, prediction=pred))
