"""DAFormer's ImageNet feature distance: keep thing-class features close to an ImageNet copy's."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..pseudo_labelers import IGNORE_INDEX

#: Cityscapes train ids of the "thing" classes (traffic light ... bicycle), DAFormer's default.
CITYSCAPES_THING_CLASSES = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)


def downscale_label_ratio(labels: Tensor, size: Sequence[int], min_ratio: float,
                          num_classes: int, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Labels [B, H, W] -> [B, h, w] by majority vote over each block, kept only if dominant.

    Each output pixel covers an ``(H/h) x (W/w)`` block; it takes the block's most frequent label
    if that label fills at least ``min_ratio`` of the block and is not ``ignore_index``, else
    ``ignore_index`` (Hoyer et al., DAFormer, arXiv:2111.14887, Sec. 3.3).

    Args:
        labels (Tensor): [B, H, W] int64 class ids or ``ignore_index``.
        size (Sequence[int]): ``(h, w)``; ``H`` and ``W`` must be multiples of them.
        min_ratio (float): Share of the block the majority must fill (DAFormer: 0.75).
        num_classes (int): C.

    Returns:
        Tensor: [B, h, w] int64.
    """
    b, H, W = labels.shape
    h, w = size
    if H % h or W % w:
        raise ValueError(f'label size {(H, W)} is not a multiple of the feature size {(h, w)}')
    lab = labels.clone()
    lab[(lab < 0) | (lab >= num_classes)] = num_classes  # ignore as an extra "class"
    onehot = F.one_hot(lab, num_classes + 1).permute(0, 3, 1, 2).float()
    share = F.avg_pool2d(onehot, kernel_size=(H // h, W // w))  # [B, C+1, h, w]
    ratio, cls = share.max(dim=1)
    cls[(ratio < min_ratio) | (cls == num_classes)] = ignore_index
    return cls


def feature_distance(feat: Tensor, ref: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """Mean over (masked) pixels of ``||feat - ref||_2`` along channels; 0 if no pixel is masked.

    Args:
        feat (Tensor): [B, C, h, w] the student's features.
        ref (Tensor): [B, C, h, w] the frozen ImageNet model's features.
        mask (Tensor, optional): [B, h, w] bool, the pixels that count.
    """
    dist = torch.norm(feat.float() - ref.float(), p=2, dim=1)  # [B, h, w]
    if mask is not None:
        dist = dist[mask]
    return dist.mean() if dist.numel() else feat.sum() * 0


@MODELS.register_module()
class FeatureDistanceLoss(nn.Module):
    """``lambda * mean_{thing pixels} ||f_student - f_imagenet||_2`` on the source image (DAFormer).

    Args:
        loss_weight (float): lambda_FD. DAFormer: 0.005.
        thing_classes (Sequence[int], optional): Classes whose pixels count; None: every labelled
            pixel. Default: Cityscapes' things.
        min_ratio (float): Of :func:`downscale_label_ratio`. DAFormer: 0.75.
        loss_name (str): Defaults to 'loss_imnet_fd'.
    """

    def __init__(self, loss_weight: float = 0.005,
                 thing_classes: Optional[Sequence[int]] = CITYSCAPES_THING_CLASSES,
                 min_ratio: float = 0.75, loss_name: str = 'loss_imnet_fd'):
        super().__init__()
        if not 0 < min_ratio <= 1:
            raise ValueError(f'min_ratio must be in (0, 1], got {min_ratio}')
        self.loss_weight = loss_weight
        self.thing_classes = None if thing_classes is None else [int(c) for c in thing_classes]
        self.min_ratio = min_ratio
        self._loss_name = loss_name

    def forward(self, feat: Tensor, ref: Tensor, labels: Tensor, num_classes: int) -> Tensor:
        """Args: feat, ref [B, C, h, w]; labels [B, H, W] source labels; num_classes C."""
        small = downscale_label_ratio(labels, feat.shape[2:], self.min_ratio, num_classes)
        mask = small != IGNORE_INDEX
        if self.thing_classes is not None:
            mask = mask & torch.isin(small, torch.tensor(self.thing_classes, device=small.device))
        return self.loss_weight * feature_distance(feat, ref.detach(), mask)

    @property
    def loss_name(self) -> str:
        return self._loss_name
