"""Pixel-weighted cross-entropy with pseudo-labels, the self-training loss of DACS / DAFormer.

DAFormer (arXiv:2111.14887, Sec. 3.1; its public code) trains the student on the (mixed) target
image with
``CE(f(x), y_hat, weight=w)`` through mmseg 0.16's ``CrossEntropyLoss``: per-pixel CE (0 on
ignored pixels), times the pixel weight, then ``mean()`` over **all** B*H*W pixels
(``weight_reduce_loss`` with ``avg_factor=None``). That is ``avg='pixels'`` here, the default: the
scalar DACS confidence weight then scales the loss, and unlabelled pixels count in the denominator.
``avg='weights'`` is the weighted mean ``sum(w * ce) / sum(w)`` instead.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

from ..pseudo_labelers.pseudo_labels import IGNORE_INDEX

_AVGS = ('pixels', 'weights')


def pseudo_label_ce_loss(seg_logits: Tensor,
                         labels: Tensor,
                         weights: Optional[Tensor] = None,
                         avg: str = 'pixels',
                         class_weight: Optional[Tensor] = None,
                         ignore_index: int = IGNORE_INDEX,
                         eps: float = 1e-6) -> Tensor:
    """Weighted cross-entropy with (pseudo-)labels.

    With ``ce_i = -log softmax(seg_logits)_i[y_i]`` (0 where ``y_i == ignore_index``) and
    ``w_i`` the weight (set to 0 on ignored pixels):

    * ``avg='pixels'``: ``sum_i w_i * ce_i / (B*H*W)`` (DACS / DAFormer);
    * ``avg='weights'``: ``sum_i w_i * ce_i / max(sum_i w_i, eps)``.

    A batch without any labelled pixel (or with all weights 0) gives exactly 0, never NaN, and a
    zero gradient.

    Args:
        seg_logits (Tensor): Logits at label resolution, shape (B, C, H, W). Computed in float32
            at least.
        labels (Tensor): Labels, shape (B, H, W), int64 in [0, C) or ``ignore_index``.
        weights (Tensor, optional): Pixel weights, shape (B, H, W) (or broadcastable to it, e.g.
            (B, 1, 1) for a per-image scalar). None: all 1.
        avg (str): 'pixels' or 'weights', see above.
        class_weight (Tensor, optional): Per-class weight of the CE, shape (C,), as the ``weight``
            of :func:`torch.nn.functional.cross_entropy` (it does not enter the denominator).
        ignore_index (int): Label to ignore. Defaults to 255.
        eps (float): Lower bound of the denominator for ``avg='weights'``.

    Returns:
        Tensor: Scalar loss.
    """
    if avg not in _AVGS:
        raise ValueError(f'avg must be one of {_AVGS}, got {avg!r}')
    if seg_logits.dim() != 4 or labels.shape != (seg_logits.shape[0], *seg_logits.shape[2:]):
        raise ValueError(f'seg_logits (B, C, H, W) and labels (B, H, W) at the same resolution are '
                         f'expected, got {tuple(seg_logits.shape)} and {tuple(labels.shape)}; '
                         f'resize the logits to the label size first')
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    if class_weight is not None:
        class_weight = torch.as_tensor(class_weight, dtype=logits.dtype, device=logits.device)
    labels = labels.long()
    ce = F.cross_entropy(logits, labels, weight=class_weight, reduction='none',
                         ignore_index=ignore_index)  # (B, H, W), 0 where ignored
    valid = (labels != ignore_index).to(ce.dtype)
    w = valid if weights is None else valid * weights.to(ce.dtype)
    total = (w * ce).sum()
    if avg == 'pixels':
        return total / labels.numel()
    return total / w.sum().clamp(min=eps)


@MODELS.register_module()
class PseudoLabelCELoss(nn.Module):
    """Cross-entropy with a :class:`PseudoLabels` batch (labels and per-pixel weights).

    Args:
        avg (str): Normalisation, 'pixels' (DACS/DAFormer: divide by B*H*W) or 'weights'
            (divide by the sum of the weights). Defaults to 'pixels'.
        use_weights (bool): Multiply the CE by ``pseudo_labels.weights``; False trains with the
            labels only (all weights 1 on labelled pixels). Defaults to True.
        class_weight (Sequence[float], optional): Per-class CE weight. Defaults to None.
        eps (float): Lower bound of the denominator for ``avg='weights'``. Defaults to 1e-6.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to
            'loss_pl_ce'.
    """

    def __init__(self,
                 avg: str = 'pixels',
                 use_weights: bool = True,
                 class_weight: Optional[Sequence[float]] = None,
                 eps: float = 1e-6,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_pl_ce'):
        super().__init__()
        if avg not in _AVGS:
            raise ValueError(f'avg must be one of {_AVGS}, got {avg!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.avg = avg
        self.use_weights = use_weights
        self.class_weight = None if class_weight is None else list(class_weight)
        self.eps = eps
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels, **ctx) -> Tensor:
        """Compute the loss.

        Args:
            seg_logits (Tensor): Student logits at label resolution, shape (B, C, H, W).
            pseudo_labels (PseudoLabels): ``labels`` (B, H, W) int64 with 255 = ignore and
                ``weights`` (B, H, W).
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar loss.
        """
        if pseudo_labels is None:
            raise ValueError(f'{type(self).__name__} needs pseudo-labels: configure a '
                             f'pseudo-labeler in the segmentor')
        weights = pseudo_labels.weights if self.use_weights else None
        return self.loss_weight * pseudo_label_ce_loss(
            seg_logits, pseudo_labels.labels, weights, avg=self.avg,
            class_weight=self.class_weight, eps=self.eps)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
