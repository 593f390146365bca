"""Negative learning with complementary labels: Cal-SFDA's negative term (from LDBE) and ATP's
negative pseudo-labels, one loss in two configurations.

Negative learning (Kim et al., ICCV 2019) trains on a *complementary* label, a class the input does
not belong to, by pushing its probability down: ``L = -log(1 - p_neg)``. LDBE and Cal-SFDA (in their
public code) take as complementary label of every pixel the class at one middle rank of the pixel's
own sorted prediction, a class that is very unlikely to be the true one but still has some
probability to remove. The rank is drawn once per batch:

    k = floor(C / 2) + U{-r, ..., r},
    L = (1/N) * sum_i -log(clamp(1 - p_{i, neg_i}, m, 1)),  neg_i = argsort_desc(p_i)[k - 1],

(the k-th most probable class, the public code's ``topk(p, k)[:, -1]``; the 0-based rank k - 1 is
clamped to [1, C - 1])

over all N = B*H*W pixels, labelled or not (no pseudo-labels are needed), ``r = 3``, ``m = 1e-5``.
That is ``selection='rank'`` (the default, Cal-SFDA's configuration).

ATP (Wang, Liang, Zhang, arXiv:2106.11653, Sec. 3, "bidirectional teaching") adds *negative
pseudo-labels* to self-training: every class the teacher finds unlikely at a pixel is a negative
label there. Its rule is not public; reconstructed ("ATP, re-implemented") as
``selection='threshold'``: N_i = {k : q_ik < tau_n}, or ``selection='lowest'``: the ``num_lowest``
least probable classes, and

    L = mean over pixels with N_i non-empty of
        -(1/|N_i|) sum_{k in N_i} log(clamp(1 - p_ik, m, 1)),

with ``q`` the probabilities the negatives are chosen from: the student's own (detached, as in
Cal-SFDA) or the teacher's (``probs_from='teacher'``: ``pseudo_labels.probs``). With exactly one
negative per pixel (``'rank'``) this is the formula above.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


def draw_negative_rank(num_classes: int, rank_window: int = 3) -> int:
    """Draw the 0-based rank ``floor(C/2) - 1 + U{-rank_window, ..., rank_window}`` in [1, C - 1].

    LDBE / Cal-SFDA draw ``k = floor(C/2) + U{-3..3}`` and take ``topk(p, k)[:, -1]``, the k-th most
    probable class, i.e. 0-based rank ``k - 1``: the same window here.

    Uses :func:`torch.randint` on torch's default generator, so it follows ``torch.manual_seed``
    (and mmengine's ``randomness.seed``).

    Args:
        num_classes (int): C, at least 2.
        rank_window (int): Half-width r of the uniform offset, >= 0.

    Returns:
        int: Rank k, 0 being the most probable class.
    """
    if num_classes < 2:
        raise ValueError(f'negative learning needs at least 2 classes, got {num_classes}')
    if rank_window < 0:
        raise ValueError(f'rank_window must be >= 0, got {rank_window}')
    offset = int(torch.randint(-rank_window, rank_window + 1, (1, )).item())
    return min(max(num_classes // 2 - 1 + offset, 1), num_classes - 1)


def negative_learning_loss(seg_logits: Tensor,
                           rank: Optional[int] = None,
                           rank_window: int = 3,
                           clamp_min: float = 1e-5) -> Tensor:
    """Mean over all pixels of ``-log(clamp(1 - p_neg, clamp_min, 1))``.

    ``p_neg`` is, at every pixel, the probability of the class at rank ``rank`` (0 = most
    probable) of that pixel's ``softmax(seg_logits)`` sorted in descending order. The selection
    is not differentiated; the gradient lowers ``p_neg`` (zero where ``1 - p_neg < clamp_min``,
    as with the public code's clamp). Ties between probabilities are broken by
    :func:`torch.topk`.

    The drawn rank (:func:`draw_negative_rank`) is the public code's ``topk(p, k)[:, -1]``.

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W) (any (B, C, ...) works). Computed in
            float32 at least.
        rank (int, optional): 0-based rank in [0, C - 1] of the complementary class. None: drawn
            by :func:`draw_negative_rank` with ``rank_window``.
        rank_window (int): Half-width of the random rank offset when ``rank`` is None.
        clamp_min (float): Lower clamp of ``1 - p_neg`` inside the log, > 0.

    Returns:
        Tensor: Scalar loss, in [0, -log(clamp_min)].
    """
    if clamp_min <= 0:
        raise ValueError(f'clamp_min must be > 0, got {clamp_min}')
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    num_classes = logits.shape[1]
    if rank is None:
        rank = draw_negative_rank(num_classes, rank_window)
    elif not 0 <= rank < num_classes:
        raise ValueError(f'rank must be in [0, {num_classes - 1}], got {rank}')
    probs = logits.softmax(dim=1)
    neg = probs.detach().topk(rank + 1, dim=1, sorted=True).indices[:, -1:]  # (B, 1, ...)
    p_neg = probs.gather(1, neg)
    return -(1.0 - p_neg).clamp(min=clamp_min, max=1.0).log().mean()


SELECTIONS = ('rank', 'threshold', 'lowest')
PROBS_FROM = ('student', 'teacher')


def negative_label_mask(probs: Tensor, selection: str = 'rank', rank: Optional[int] = None,
                        rank_window: int = 3, tau_n: float = 0.05, num_lowest: int = 1) -> Tensor:
    """The negative (complementary) labels of every pixel, chosen from ``probs``.

    Args:
        probs (Tensor): Probabilities, shape (B, C, H, W) (not differentiated).
        selection (str): ``'rank'`` (one class at rank ``rank``, drawn by
            :func:`draw_negative_rank` when None), ``'threshold'`` (every class with
            ``probs < tau_n``) or ``'lowest'`` (the ``num_lowest`` least probable classes).
        rank, rank_window: See :func:`negative_learning_loss`.
        tau_n (float): Threshold of ``'threshold'``, in (0, 1).
        num_lowest (int): Count of ``'lowest'``, in [1, C - 1].

    Returns:
        Tensor: (B, C, H, W) bool, True at each pixel's negative labels.
    """
    num_classes = probs.shape[1]
    probs = probs.detach()
    if selection == 'threshold':
        return probs < tau_n
    if selection == 'lowest':
        if not 1 <= num_lowest < num_classes:
            raise ValueError(f'num_lowest must be in [1, {num_classes - 1}], got {num_lowest}')
        idx = probs.topk(num_lowest, dim=1, largest=False).indices
        return torch.zeros_like(probs, dtype=torch.bool).scatter_(1, idx, True)
    if selection != 'rank':
        raise ValueError(f'selection must be one of {SELECTIONS}, got {selection!r}')
    if rank is None:
        rank = draw_negative_rank(num_classes, rank_window)
    elif not 0 <= rank < num_classes:
        raise ValueError(f'rank must be in [0, {num_classes - 1}], got {rank}')
    neg = probs.topk(rank + 1, dim=1, sorted=True).indices[:, -1:]
    return torch.zeros_like(probs, dtype=torch.bool).scatter_(1, neg, True)


def masked_negative_loss(seg_logits: Tensor, negatives: Tensor, clamp_min: float = 1e-5) -> Tensor:
    """``-(1/|N_i|) sum_{k in N_i} log(clamp(1 - p_ik, clamp_min, 1))``, averaged over the pixels
    with at least one negative (0 when no pixel has one).

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W); p = softmax over C.
        negatives (Tensor): (B, C, H, W) bool negative labels (or (B, C, h, w), resized with
            nearest neighbours to the logits' size).
        clamp_min (float): Lower clamp of ``1 - p`` inside the log, > 0.

    Returns:
        Tensor: Scalar loss.
    """
    if clamp_min <= 0:
        raise ValueError(f'clamp_min must be > 0, got {clamp_min}')
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    if negatives.shape[1] != logits.shape[1]:
        raise ValueError(f'negatives have {negatives.shape[1]} classes, the logits '
                         f'{logits.shape[1]}')
    if negatives.shape[2:] != logits.shape[2:]:
        negatives = F.interpolate(negatives.float(), size=logits.shape[2:], mode='nearest') > 0.5
    probs = logits.softmax(dim=1)
    nll = -(1.0 - probs).clamp(min=clamp_min, max=1.0).log() * negatives
    count = negatives.sum(dim=1)  # (B, H, W)
    per_pixel = nll.sum(dim=1) / count.clamp(min=1)
    has = count > 0
    if not has.any():
        return logits.sum() * 0.0
    return per_pixel[has].mean()


@MODELS.register_module()
class NegativeLearningLoss(nn.Module):
    """Negative learning on every target pixel, a target loss: Cal-SFDA's (LDBE's) by default,
    ATP's negative pseudo-labels with ``selection='threshold'`` (see the module docstring).

    Args:
        rank_window (int): Half-width r of the per-call random rank ``floor(C/2) - 1 + U{-r..r}``.
            Defaults to 3 (Cal-SFDA).
        selection (str): ``'rank'`` (Cal-SFDA), ``'threshold'`` or ``'lowest'`` (ATP).
            Defaults to 'rank'.
        tau_n (float): ``'threshold'``: classes with probability below it are negatives.
            Defaults to 0.05 [U, ATP].
        num_lowest (int): ``'lowest'``: how many least probable classes. Defaults to 1.
        probs_from (str): ``'student'``: negatives from the student's own detached prediction
            (Cal-SFDA); ``'teacher'``: from ``pseudo_labels.probs``, the teacher's (ATP with an
            online teacher). Defaults to 'student'.
        clamp_min (float): Lower clamp of ``1 - p_neg`` inside the log. Defaults to 1e-5.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to 'loss_nl'.
    """

    def __init__(self,
                 rank_window: int = 3,
                 clamp_min: float = 1e-5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_nl',
                 selection: str = 'rank',
                 tau_n: float = 0.05,
                 num_lowest: int = 1,
                 probs_from: str = 'student'):
        super().__init__()
        if selection not in SELECTIONS:
            raise ValueError(f'selection must be one of {SELECTIONS}, got {selection!r}')
        if probs_from not in PROBS_FROM:
            raise ValueError(f'probs_from must be one of {PROBS_FROM}, got {probs_from!r}')
        if not 0.0 < tau_n < 1.0:
            raise ValueError(f'tau_n must be in (0, 1), got {tau_n}')
        if num_lowest < 1:
            raise ValueError(f'num_lowest must be >= 1, got {num_lowest}')
        self.selection, self.tau_n, self.num_lowest = selection, tau_n, num_lowest
        self.probs_from = probs_from
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        if rank_window < 0:
            raise ValueError(f'rank_window must be >= 0, got {rank_window}')
        if clamp_min <= 0:
            raise ValueError(f'clamp_min must be > 0, got {clamp_min}')
        self.rank_window = rank_window
        self.clamp_min = clamp_min
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """Compute the loss (``'rank'``: with a freshly drawn rank).

        Args:
            seg_logits (Tensor): Student logits, shape (B, C, H, W).
            pseudo_labels (PseudoLabels, optional): Read only with ``probs_from='teacher'`` (its
                ``probs`` [B, C, H, W]); every pixel is a sample either way.
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar loss.
        """
        if self.selection == 'rank' and self.probs_from == 'student':
            return self.loss_weight * negative_learning_loss(
                seg_logits, rank_window=self.rank_window, clamp_min=self.clamp_min)
        if self.probs_from == 'teacher':
            if pseudo_labels is None or pseudo_labels.probs is None:
                raise ValueError(
                    "NegativeLearningLoss(probs_from='teacher') needs the teacher's probabilities "
                    '(pseudo_labels.probs), but the step has none: offline labels read from files '
                    "carry no probabilities; use probs_from='student' or an online teacher")
            probs = pseudo_labels.probs
        else:
            probs = seg_logits.detach().float().softmax(1)
        negatives = negative_label_mask(probs, self.selection, rank_window=self.rank_window,
                                        tau_n=self.tau_n, num_lowest=self.num_lowest)
        return self.loss_weight * masked_negative_loss(seg_logits, negatives, self.clamp_min)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
