"""Per-class statistics of a pseudo-label batch, for logging (``PseudoLabelStatsHook``)."""
from typing import Dict, Optional

import torch
from torch import Tensor

from .pseudo_labels import IGNORE_INDEX, PseudoLabels

#: Keys of the per-class count vectors (shape (C,)), summed over iterations by the hook.
STAT_KEYS = ('predicted', 'labelled', 'weight', 'evaluated', 'correct')


def _bincount(values: Tensor, num_classes: int, weights: Optional[Tensor] = None) -> Tensor:
    return torch.bincount(values, weights=weights, minlength=num_classes)[:num_classes].double()


@torch.no_grad()
def pseudo_label_stats(pl: PseudoLabels,
                       num_classes: int,
                       gt: Optional[Tensor] = None,
                       ignore_index: int = IGNORE_INDEX) -> Dict[str, Tensor]:
    """Reduce a pseudo-label batch to a few per-class counts (float64, on the labels' device).

    The segmentor calls it in ``loss()`` and stores the result as ``self.pseudo_label_stats``;
    :class:`~mmsfda.engine.hooks.PseudoLabelStatsHook` sums it over iterations and logs it.

    Args:
        pl (PseudoLabels): ``labels`` (B, H, W) with ``ignore_index`` where unlabelled,
            ``weights`` (B, H, W), optional ``probs`` (B, C, H, W).
        num_classes (int): C.
        gt (Tensor, optional): Target ground truth at label resolution, shape (B, H, W), with
            ``ignore_index`` where unknown (only for monitoring; never used for training).
        ignore_index (int): Unlabelled value in ``pl.labels`` and ``gt``. Defaults to 255.

    Returns:
        dict[str, Tensor]:
            * ``pixels``: scalar, number of pixels B*H*W.
            * ``labelled``: (C,) pixels pseudo-labelled as class c.
            * ``weight``: (C,) sum of the weights of those pixels.
            * ``predicted``: (C,) pixels whose teacher argmax is c (``pl.extras['prediction']``
              [B, H, W] when the labeler gives it, else from ``pl.probs``; absent without both);
              ``labelled / predicted`` is the share of the teacher's class-c predictions kept.
            * ``evaluated``: (C,) pixels labelled c whose ground truth is known (only with ``gt``).
            * ``correct``: (C,) pixels labelled c whose ground truth is c (only with ``gt``).
    """
    labels = pl.labels.long()
    valid = labels != ignore_index
    lab = labels[valid]
    stats = {
        'pixels': torch.tensor(float(labels.numel()), dtype=torch.float64, device=labels.device),
        'labelled': _bincount(lab, num_classes),
        'weight': _bincount(lab, num_classes,
                            pl.weights.expand_as(labels)[valid].double()),
    }
    prediction = pl.extras.get('prediction')
    if prediction is not None and prediction.shape == labels.shape:
        # The labeler's argmax: no second pass over [B, C, H, W].
        stats['predicted'] = _bincount(prediction.flatten(), num_classes)
    elif pl.probs is not None:
        # max().indices: same result as argmax, several times faster on CPU builds of torch.
        stats['predicted'] = _bincount(pl.probs.max(dim=1).indices.flatten(), num_classes)
    if gt is not None:
        if gt.shape != labels.shape:
            raise ValueError(f'gt must have the shape of the pseudo-labels {tuple(labels.shape)}, '
                             f'got {tuple(gt.shape)}')
        gt = gt.long()
        known = valid & (gt != ignore_index)
        stats['evaluated'] = _bincount(labels[known], num_classes)
        stats['correct'] = _bincount(labels[known & (gt == labels)], num_classes)
    return stats
