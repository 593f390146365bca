"""A running per-class performance score and the class weights of dynamic re-weighting."""
from typing import Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


def class_iou(pred: Tensor, gt: Tensor, num_classes: int) -> Tuple[Tensor, Tensor]:
    """Per-class IoU of one batch.

    Args:
        pred, gt (Tensor): [N] int64 predicted and true class ids in [0, C) (ignored pixels
            removed).

    Returns:
        tuple: iou [C] float in [0, 1], present [C] bool (classes with a true pixel).
    """
    inter = torch.bincount(gt[pred == gt], minlength=num_classes).float()
    n_gt = torch.bincount(gt, minlength=num_classes).float()
    n_pred = torch.bincount(pred, minlength=num_classes).float()
    union = n_gt + n_pred - inter
    return inter / union.clamp(min=1), n_gt > 0


def class_accuracy(pred: Tensor, gt: Tensor, num_classes: int) -> Tuple[Tensor, Tensor]:
    """Per-class pixel accuracy (recall) of one batch: ``[C]`` values and ``[C]`` present mask."""
    hit = torch.bincount(gt[pred == gt], minlength=num_classes).float()
    n_gt = torch.bincount(gt, minlength=num_classes).float()
    return hit / n_gt.clamp(min=1), n_gt > 0


def class_mean(values: Tensor, labels: Tensor, num_classes: int) -> Tuple[Tensor, Tensor]:
    """Mean of ``values`` [N] per class of ``labels`` [N]: ``[C]`` means and ``[C]`` present."""
    n = torch.bincount(labels, minlength=num_classes).float()
    s = torch.zeros(num_classes, device=values.device).index_add_(0, labels, values.float())
    return s / n.clamp(min=1), n > 0


@MODELS.register_module()
class ClassPerformanceTracker(nn.Module):
    """EMA of a per-class score s_c in [0, 1] and the weights ``w_c ∝ (1 - s_c)^gamma``.

    T2S-DA (arXiv:2305.13752) up-weights the classes the model handles worst; the score, the
    exponent and the momentum are reconstructions. ``update`` folds one step's scores in:
    ``s_c <- m * s_c + (1 - m) * v_c`` for the classes present in the step (the first value of a
    class sets it); absent classes keep their score. The state is in buffers (exact resume).

    Args:
        num_classes (int): C.
        momentum (float): m in [0, 1). Defaults to 0.99.
        gamma (float): Exponent, >= 0 (0: uniform weights). Defaults to 1.0.
    """

    def __init__(self, num_classes: int, momentum: float = 0.99, gamma: float = 1.0):
        super().__init__()
        if not 0 <= momentum < 1 or gamma < 0:
            raise ValueError(f'momentum must be in [0, 1) and gamma >= 0, got {momentum}, {gamma}')
        self.num_classes = num_classes
        self.momentum = momentum
        self.gamma = gamma
        self.register_buffer('score', torch.zeros(num_classes))
        self.register_buffer('seen', torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, values: Tensor, present: Tensor) -> None:
        """Fold in ``values`` [C] (in [0, 1]) for the classes where ``present`` [C] is True."""
        if values.shape != (self.num_classes,) or present.shape != (self.num_classes,):
            raise ValueError(f'values and present must be [{self.num_classes}], got '
                             f'{tuple(values.shape)} and {tuple(present.shape)}')
        values = values.to(self.score).clamp(0, 1)
        ema = self.momentum * self.score + (1 - self.momentum) * values
        new = torch.where(self.seen, ema, values)
        self.score.copy_(torch.where(present, new, self.score))
        self.seen |= present

    def weights(self, active: Optional[Tensor] = None) -> Tensor:
        """``w_c = (1 - s_c)^gamma / mean_{c' active} (1 - s_c')^gamma``, [C].

        ``active`` [C] bool (default: all classes): the classes the weighted loss averages over, so
        that their mean weight is 1. If every active class has a perfect score the weights are 1.
        """
        w = (1 - self.score).clamp(min=0) ** self.gamma
        active = torch.ones_like(self.seen) if active is None else active
        mean = w[active].mean() if active.any() else w.new_ones(())
        if not mean > 0:
            return torch.ones_like(w)
        return w / mean
