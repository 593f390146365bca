"""Differentiable (LogSumExp) expected calibration error, the Cal-SFDA source loss.

Cal-SFDA (Wang et al., ACM MM 2023, arXiv 2308.03003) adds the class-level ECE of every source
image to the cross-entropy: ``L = CE + alpha * ClassECE``. The hard ``max`` confidence is replaced
by a LogSumExp of the probability vector so that the binned ECE has a gradient.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS

_AVERAGES = ('all', 'present')


def _bin_index(conf: Tensor, n_bins: int) -> Tensor:
    """Bin of each confidence: ``(m-1)/M < conf <= m/M`` -> ``m-1``.

    As the public code, the boundaries are ``torch.linspace(0, 1, M + 1)`` in the confidence's
    dtype. ``conf <= 0`` goes to the first bin and ``conf > 1`` (the LogSumExp can exceed the hard
    max by up to ``t*log(C)``) to the last one; the public code drops such pixels from every bin.
    """
    inner = torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype, device=conf.device)[1:-1]
    return torch.bucketize(conf, inner, right=False)


def differentiable_ece_loss(pred: Tensor,
                            target: Tensor,
                            weight: Optional[Tensor] = None,
                            n_bins: int = 10,
                            lse_t: float = 1e-5,
                            class_level: bool = True,
                            average: str = 'all',
                            ignore_index: Optional[int] = 255) -> Tensor:
    """Per-image differentiable (LogSumExp) ECE, class-level or pooled.

    For the valid pixels i of one image (target != ignore_index):

    * ``p_i = softmax(pred_i)`` over the C classes;
    * smooth confidence ``conf_i = t * log(sum_c exp(p_ic / t))`` with ``t = lse_t``; it lies in
      ``[max_c p_ic, max_c p_ic + t*log(C)]`` and its gradient is ``softmax(p_i / t)``;
    * correctness ``a_i = 1[argmax_c p_ic == y_i]`` (no gradient);
    * bin ``B_m`` = pixels with ``(m-1)/M < conf_i <= m/M``, ``m = 1..M``, ``M = n_bins``;
    * ``ECE = sum_m |B_m|/N * |mean_{B_m} conf - mean_{B_m} a|
      = (1/N) * sum_m |sum_{B_m} conf_i - sum_{B_m} a_i|``.

    With ``class_level=True`` the ECE is computed separately over the pixels whose ground truth is
    class k (``ECE_k``) and averaged over classes: ``average='all'`` divides the sum by C (classes
    absent from the image contribute 0, as the public code), ``average='present'`` by the number of
    classes present in the image (0 if there is none). ``class_level=False`` pools all valid pixels.

    With ``weight`` every pixel counts with its weight instead of 1 in |B_m|, N and the bin sums.
    Gradients flow only through the confidences. Everything is vectorised: one ``index_add`` into
    ``B x C x M`` bin sums, no Python loop over pixels, classes or bins.

    Args:
        pred (Tensor): Logits, shape (B, C, H, W). Computed in float32 at least (p/t overflows
            half precision); the result has that dtype.
        target (Tensor): Labels, shape (B, H, W), int64 in [0, C) or ``ignore_index``.
        weight (Tensor, optional): Pixel weights, shape (B, H, W). Defaults to None (all 1).
        n_bins (int): Number of equal-width bins M on (0, 1]. Defaults to 10.
        lse_t (float): LogSumExp temperature t. Defaults to 1e-5.
        class_level (bool): Class-level ECE (mean of per-GT-class ECE) or pooled ECE.
        average (str): 'all' or 'present', see above. Ignored if ``class_level=False``.
        ignore_index (int, optional): Label ignored. Defaults to 255.

    Returns:
        Tensor: Per-image ECE, shape (B,), a fraction in [0, 1] (up to ``t*log(C)``).
    """
    if average not in _AVERAGES:
        raise ValueError(f'average must be one of {_AVERAGES}, got {average!r}')
    assert pred.dim() == 4 and target.shape == (pred.shape[0], *pred.shape[2:]), \
        f'pred (B, C, H, W) and target (B, H, W) expected, got {tuple(pred.shape)} and ' \
        f'{tuple(target.shape)}'
    num_imgs, num_classes = pred.shape[:2]

    # float32 at least: p / t overflows half precision (t = 1e-5); float64 stays (gradcheck)
    probs = pred.to(torch.promote_types(pred.dtype, torch.float32)).softmax(dim=1)
    conf = lse_t * torch.logsumexp(probs / lse_t, dim=1)  # (B, H, W)
    with torch.no_grad():
        target = target.long()
        valid = (target >= 0) & (target < num_classes)
        if ignore_index is not None:
            valid &= target != ignore_index
        correct = (probs.argmax(dim=1) == target).to(conf.dtype)
        bins = _bin_index(conf.detach(), n_bins)
        img_idx = torch.arange(num_imgs, device=pred.device).view(-1, 1, 1).expand_as(target)
        cls_idx = target.clamp(0, num_classes - 1) if class_level else torch.zeros_like(target)
        num_groups = num_classes if class_level else 1
        # flat index of the (image, group, bin) cell of every valid pixel
        cell = ((img_idx * num_groups + cls_idx) * n_bins + bins)[valid]

    if weight is None:
        mass = conf.new_ones(cell.shape)
    else:
        mass = weight.to(conf.dtype).reshape(target.shape)[valid]
    num_cells = num_imgs * num_groups * n_bins
    # |sum conf - sum acc| per bin; (B, G, M). Gradient flows through the confidence sums only.
    conf_sum = conf.new_zeros(num_cells).index_add(0, cell, mass * conf[valid])
    acc_sum = conf.new_zeros(num_cells).index_add(0, cell, mass.detach() * correct[valid])
    count = conf.new_zeros(num_cells).index_add(0, cell, mass.detach())
    gap = (conf_sum - acc_sum).abs().view(num_imgs, num_groups, n_bins).sum(dim=2)
    total = count.view(num_imgs, num_groups, n_bins).sum(dim=2)  # N per (image, group)
    present = total > 0
    ece = gap / total.clamp(min=torch.finfo(total.dtype).tiny)  # (B, G), 0 where absent

    if not class_level or average == 'all':
        return ece.mean(dim=1)
    return ece.sum(dim=1) / present.sum(dim=1).clamp(min=1)


@MODELS.register_module()
class DifferentiableECELoss(nn.Module):
    """Differentiable (LogSumExp) class-level ECE loss of Cal-SFDA (arXiv:2308.03003).

    An entry of a decode head's ``loss_decode`` list, next to the cross-entropy::

        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            dict(type='DifferentiableECELoss', loss_weight=1.0)]

    See :func:`differentiable_ece_loss` for the equations. The per-image values are reduced over
    the batch with ``reduction`` (the paper averages them).

    Args:
        n_bins (int): Number of equal-width confidence bins. Defaults to 10.
        lse_t (float): LogSumExp temperature. Defaults to 1e-5.
        class_level (bool): Class-level ECE (True, the paper's loss) or pooled ECE.
        average (str): 'all' (divide by C, as the public code) or 'present' (divide by the number
            of classes present in the image's ground truth). Defaults to 'all'.
        reduction (str): 'mean', 'sum' or 'none' over the images. Defaults to 'mean'.
        loss_weight (float): Weight alpha of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item; must start with ``loss_`` to be back-propagated.
            Defaults to 'loss_ece'.
    """

    def __init__(self,
                 n_bins: int = 10,
                 lse_t: float = 1e-5,
                 class_level: bool = True,
                 average: str = 'all',
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ece') -> None:
        super().__init__()
        if average not in _AVERAGES:
            raise ValueError(f'average must be one of {_AVERAGES}, got {average!r}')
        assert reduction in ('none', 'mean', 'sum')
        assert n_bins >= 1 and lse_t > 0
        self.n_bins = n_bins
        self.lse_t = lse_t
        self.class_level = class_level
        self.average = average
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits at label resolution, shape (B, C, H, W).
            target (Tensor): Labels, shape (B, H, W).
            weight (Tensor, optional): Pixel weights, shape (B, H, W) (e.g. a sampler's
                ``seg_weight``). Defaults to None.
            avg_factor (float, optional): Divide the sum of the per-image values by this instead
                of B when the reduction is 'mean'. Defaults to None.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.
            ignore_index (int, optional): Label ignored. Defaults to 255.

        Returns:
            Tensor: Scalar loss, or shape (B,) with reduction 'none'.
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override if reduction_override else self.reduction
        ece = differentiable_ece_loss(
            pred,
            target,
            weight=weight,
            n_bins=self.n_bins,
            lse_t=self.lse_t,
            class_level=self.class_level,
            average=self.average,
            ignore_index=ignore_index)
        if reduction == 'mean':
            ece = ece.sum() / avg_factor if avg_factor is not None else ece.mean()
        elif reduction == 'sum':
            ece = ece.sum()
        return self.loss_weight * ece

    @property
    def loss_name(self) -> str:
        """Name of the loss item; ``loss_`` prefixed items are summed into the total loss."""
        return self._loss_name
