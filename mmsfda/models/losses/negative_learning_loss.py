"""Negative learning with a mid-rank complementary label, Cal-SFDA's negative term (from LDBE).

Negative learning (Kim et al., ICCV 2019) trains on a *complementary* label, a class the input
does not belong to, by pushing its probability down: ``L = -log(1 - p_neg)``. LDBE and Cal-SFDA
(SPEC 3.8) take as complementary label of every pixel the class at one middle rank of the pixel's
own sorted prediction, a class that is very unlikely to be the true one but still has some
probability to remove. The rank is drawn once per batch:

    k = floor(C / 2) + U{-r, ..., r},
    L = (1/N) * sum_i -log(clamp(1 - p_{i, neg_i}, m, 1)),  neg_i = argsort_desc(p_i)[k - 1],

(the k-th most probable class, the public code's ``topk(p, k)[:, -1]``; the 0-based rank k - 1 is
clamped to [1, C - 1])

over all N = B*H*W pixels, labelled or not (no pseudo-labels are needed), ``r = 3``, ``m = 1e-5``.
"""
from typing import Optional

import torch
import torch.nn as nn
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


@MODELS.register_module()
class NegativeLearningLoss(nn.Module):
    """Cal-SFDA's (LDBE's) negative learning on every target pixel, a target loss.

    Args:
        rank_window (int): Half-width r of the per-call random rank ``floor(C/2) - 1 + U{-r..r}``.
            Defaults to 3 (Cal-SFDA).
        clamp_min (float): Lower clamp of ``1 - p_neg`` inside the log. Defaults to 1e-5.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to 'loss_nl'.
    """

    def __init__(self,
                 rank_window: int = 3,
                 clamp_min: float = 1e-5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_nl'):
        super().__init__()
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
        """Compute the loss with a freshly drawn rank.

        Args:
            seg_logits (Tensor): Student logits, shape (B, C, H, W).
            pseudo_labels (PseudoLabels, optional): Not used (every pixel is a sample).
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar loss.
        """
        return self.loss_weight * negative_learning_loss(
            seg_logits, rank_window=self.rank_window, clamp_min=self.clamp_min)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
