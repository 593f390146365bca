"""Symmetric cross-entropy with threshold-derived class weights, Cal-SFDA's positive learning.

Symmetric CE (Wang et al., ICCV 2019) adds to the CE a reverse CE, the CE with prediction and label
swapped and ``log 0`` clamped to ``log A``:

    L_sce = alpha * CE_w(p, y) + beta * RCE(p, y),
    RCE   = -sum_k p_k * log(clamp(onehot(y)_k, A, 1)) = -log(A) * (1 - p_y),

an MAE-like term that is bounded and so robust to wrong pseudo-labels. Cal-SFDA (Wang et al., ACM MM
2023, arXiv:2308.03003; its public code) uses ``alpha = 0.1``, ``beta = 1``, ``A = 1e-4`` and
weights the CE by ``w_k = softmax_k(1 / theta_k)``, where ``theta_k`` is the class-balanced
confidence threshold of class k (``theta_k = 0`` replaced by 0.01): classes with low thresholds
(hard or rare) weigh more.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

from ..pseudo_labelers.pseudo_labels import IGNORE_INDEX


def threshold_class_weight(thresholds: Tensor, min_threshold: float = 0.01) -> Tensor:
    """Cal-SFDA's class weights ``w_k = softmax_k(1 / theta_k)``.

    Args:
        thresholds (Tensor): Per-class confidence thresholds ``theta``, shape (C,).
        min_threshold (float): Replaces thresholds ``<= 0`` (classes absent from the
            statistics; Cal-SFDA uses 0.01).

    Returns:
        Tensor: Weights, shape (C,), positive and summing to 1 (float32 at least). With
        ``min_threshold=0.01`` a weight can underflow to 0 in float32 (``exp(-99)``), as in the
        public code.
    """
    theta = thresholds.detach().to(torch.promote_types(thresholds.dtype, torch.float32))
    theta = torch.where(theta > 0, theta, torch.full_like(theta, min_threshold))
    return torch.softmax(1.0 / theta, dim=0)


def symmetric_ce_loss(seg_logits: Tensor,
                      labels: Tensor,
                      alpha: float = 0.1,
                      beta: float = 1.0,
                      class_weight: Optional[Tensor] = None,
                      rce_log_clamp: float = 1e-4,
                      ignore_index: int = IGNORE_INDEX) -> Tensor:
    """``alpha * CE_w + beta * RCE`` over the labelled pixels.

    * ``CE_w = sum_i w_{y_i} * ce_i / sum_i w_{y_i}`` over labelled pixels i, the weighted mean of
      :func:`torch.nn.functional.cross_entropy` with ``weight=class_weight``;
    * ``RCE = (1/N_l) * sum_i -log(A) * (1 - p_{i, y_i})`` over the ``N_l`` labelled pixels,
      ``A = rce_log_clamp``. This is the closed form of ``-sum_k p_k log(clamp(onehot_k, A, 1))``
      (``log 1 = 0`` for the true class); no one-hot tensor is built. The public code also
      clamps ``p`` to ``[1e-7, 1]`` inside the RCE; that changes the value by at most
      ``(C-1) * 1e-7 * 9.2`` and is not replicated.

    A batch without any labelled pixel gives exactly 0 and a zero gradient (the public code gives
    NaN). The same holds for the CE when every labelled pixel's class weight is 0.

    Args:
        seg_logits (Tensor): Logits at label resolution, shape (B, C, H, W). Computed in float32
            at least.
        labels (Tensor): Labels, shape (B, H, W), int64 in [0, C) or ``ignore_index``.
        alpha (float): Weight of the CE.
        beta (float): Weight of the RCE.
        class_weight (Tensor, optional): Per-class CE weight, shape (C,). None: unweighted.
        rce_log_clamp (float): ``A``, lower clamp of the one-hot label inside the log, in (0, 1).
        ignore_index (int): Label to ignore. Defaults to 255.

    Returns:
        Tensor: Scalar loss.
    """
    if seg_logits.dim() != 4 or labels.shape != (seg_logits.shape[0], *seg_logits.shape[2:]):
        raise ValueError(f'seg_logits (B, C, H, W) and labels (B, H, W) at the same resolution are '
                         f'expected, got {tuple(seg_logits.shape)} and {tuple(labels.shape)}; '
                         f'resize the logits to the label size first')
    if not 0 < rce_log_clamp < 1:
        raise ValueError(f'rce_log_clamp must be in (0, 1), got {rce_log_clamp}')
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    num_classes = logits.shape[1]
    labels = labels.long()
    valid = labels != ignore_index
    if class_weight is None:
        cw = logits.new_ones(num_classes)
    else:
        cw = torch.as_tensor(class_weight, dtype=logits.dtype, device=logits.device)
        if cw.shape != (num_classes, ):
            raise ValueError(f'class_weight must have shape ({num_classes},), got '
                             f'{tuple(cw.shape)}')
    ce = F.cross_entropy(logits, labels, weight=cw, reduction='none',
                         ignore_index=ignore_index)  # (B, H, W): w_y * ce, 0 where ignored
    safe_labels = torch.where(valid, labels, torch.zeros_like(labels))
    pix_w = cw[safe_labels] * valid  # (B, H, W): w_y, 0 where ignored
    # sum(pix_w) == 0 implies every term of ce.sum() is 0: divide by 1 then, never by 0.
    ce_den = pix_w.sum()
    ce_mean = ce.sum() / torch.where(ce_den > 0, ce_den, torch.ones_like(ce_den))

    p_y = logits.softmax(dim=1).gather(1, safe_labels[:, None])[:, 0]  # (B, H, W)
    rce = -math.log(rce_log_clamp) * (1.0 - p_y) * valid
    rce_mean = rce.sum() / valid.sum().clamp(min=1)
    return alpha * ce_mean + beta * rce_mean


@MODELS.register_module()
class SymmetricCELoss(nn.Module):
    """Cal-SFDA's positive learning: class-weighted symmetric CE with the pseudo-labels.

    The per-pixel ``pseudo_labels.weights`` are not used (Cal-SFDA trains on hard offline labels);
    ignored pixels (255) drop out.

    Args:
        alpha (float): Weight of the CE. Defaults to 0.1 (Cal-SFDA).
        beta (float): Weight of the RCE. Defaults to 1.0 (Cal-SFDA).
        threshold_weights (bool): Weight the CE's classes by ``w_k = softmax_k(1 / theta_k)`` with
            ``theta = pseudo_labels.thresholds`` [C], the labeler's class thresholds (Cal-SFDA).
            Defaults to True.
        class_weight (Sequence[float], optional): Fixed CE class weights [C] instead (only with
            ``threshold_weights=False``). None: unweighted CE. Defaults to None.
        min_threshold (float): Replaces thresholds ``<= 0`` in the weights. Defaults to 0.01.
        rce_log_clamp (float): Lower clamp of the one-hot label inside the RCE's log. Defaults to
            1e-4.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to 'loss_sce'.
    """

    def __init__(self,
                 alpha: float = 0.1,
                 beta: float = 1.0,
                 threshold_weights: bool = True,
                 class_weight: Optional[Sequence[float]] = None,
                 min_threshold: float = 0.01,
                 rce_log_clamp: float = 1e-4,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_sce'):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        if threshold_weights and class_weight is not None:
            raise ValueError('give either threshold_weights=True or a fixed class_weight, not both')
        if min_threshold <= 0:
            raise ValueError(f'min_threshold must be > 0, got {min_threshold}')
        if not 0 < rce_log_clamp < 1:
            raise ValueError(f'rce_log_clamp must be in (0, 1), got {rce_log_clamp}')
        self.alpha = alpha
        self.beta = beta
        self.threshold_weights = threshold_weights
        self.class_weight = None if class_weight is None else [float(w) for w in class_weight]
        self.min_threshold = min_threshold
        self.rce_log_clamp = rce_log_clamp
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """Compute the loss.

        Args:
            seg_logits (Tensor): Student logits at label resolution, shape (B, C, H, W).
            pseudo_labels (PseudoLabels): ``labels`` (B, H, W) int64 with 255 = ignore; with
                ``threshold_weights=True`` also ``thresholds`` (C,).
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar loss.
        """
        if pseudo_labels is None:
            raise ValueError(f'{type(self).__name__} needs pseudo-labels: configure a '
                             f'pseudo-labeler in the segmentor')
        class_weight = self.class_weight
        if self.threshold_weights:
            thresholds = pseudo_labels.thresholds
            if thresholds is None:
                raise ValueError(
                    f'{type(self).__name__}(threshold_weights=True) needs pseudo_labels.thresholds: '
                    f'the labeler must provide class thresholds (e.g. ECEGuidedLabeler / '
                    f'ClassBalancedLabeler; with offline pseudo-labels the segmentor\'s '
                    f'pseudo_labeler holds them), or set threshold_weights=False')
            thresholds = torch.as_tensor(thresholds, device=seg_logits.device)
            if thresholds.shape != (seg_logits.shape[1], ):
                raise ValueError(f'pseudo_labels.thresholds must have shape '
                                 f'({seg_logits.shape[1]},), got {tuple(thresholds.shape)}')
            class_weight = threshold_class_weight(thresholds, self.min_threshold)
        return self.loss_weight * symmetric_ce_loss(
            seg_logits, pseudo_labels.labels, alpha=self.alpha, beta=self.beta,
            class_weight=class_weight, rce_log_clamp=self.rce_log_clamp)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
