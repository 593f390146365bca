"""ClassMix between a source and a target batch (DACS, Tranheden et al. 2021; DAFormer's variant)."""
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from mmseg.registry import MODELS

IGNORE_INDEX = 255


@dataclass
class MixedBatch:
    """A mixed batch: what the student is trained on.

    Attributes:
        img (Tensor): [B, 3, H, W] mixed images (same dtype and normalisation as the inputs).
        labels (Tensor): [B, H, W] int64 mixed labels, 255 = ignore.
        weights (Tensor): [B, H, W] float32 per-pixel loss weights, 0 where ``labels == 255``.
        mask (Tensor): [B, 1, H, W] bool, True where the pixel comes from the source image.
    """
    img: Tensor
    labels: Tensor
    weights: Tensor
    mask: Tensor


@MODELS.register_module()
class ClassMix(nn.Module):
    """Paste half of the classes of each source image onto its paired target image.

    For pair i, let K be the candidate classes: those present in source label i (default), or with
    ``batch_unique=True`` those present anywhere in the source batch (DAFormer's ``get_class_masks``
    takes ``torch.unique`` over the whole batch, so a sample may draw classes it does not contain and
    get fewer than half of its own classes mixed; DAFormer's public code and its
    issue #19). ceil(|K| / 2) classes are drawn uniformly without replacement (none when K is
    empty). With M = 1 on source pixels of the drawn classes:

        img = M * x_s + (1 - M) * x_t
        labels = M * y_s + (1 - M) * y_t
        weights = M * 1 + (1 - M) * w_t

    The ignore label 255 is not a candidate unless ``include_ignore=True`` (DAFormer's ``torch.unique``
    does include it when the source labels contain 255; a drawn 255 pastes ignored pixels, whose weight
    is set to 0 here).

    DiGA (arXiv:2304.02222; its cross-domain mixture and self-training ClassMix) draws
    floor(|K| / 2) of the label values present, 255 included, and always pastes 255:
    ``ClassMix(include_ignore=True, half='floor', always_paste_ignore=True)``.

    Randomness: the class draws use ``generator`` if given (a CPU ``torch.Generator``), else torch's
    global CPU RNG, so results are reproducible under ``torch.manual_seed`` on any device. The loop
    runs over the batch only to draw classes; the masking is tensor ops.

    Args:
        batch_unique (bool): draw from the classes of the whole source batch (DAFormer). Default False.
        include_ignore (bool): make 255 a candidate class. Default False.
        ignore_index (int): the ignore label. Default 255.
        half (str): draw ``'ceil'`` (DACS, default) or ``'floor'`` (DiGA) of half the candidates.
        always_paste_ignore (bool): paste the ignore label's pixels whether drawn or not (DiGA
            keeps the source's don't-care region). Default False.
    """

    def __init__(self, batch_unique: bool = False, include_ignore: bool = False,
                 ignore_index: int = IGNORE_INDEX, half: str = 'ceil',
                 always_paste_ignore: bool = False):
        super().__init__()
        if half not in ('ceil', 'floor'):
            raise ValueError(f"ClassMix: half must be 'ceil' or 'floor', got {half!r}")
        self.batch_unique = batch_unique
        self.include_ignore = include_ignore
        self.ignore_index = ignore_index
        self.half = half
        self.always_paste_ignore = always_paste_ignore

    def _candidates(self, labels: Tensor) -> Tensor:
        classes = torch.unique(labels)
        if not self.include_ignore:
            classes = classes[classes != self.ignore_index]
        return classes

    def choose_classes(self, source_labels: Tensor,
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw the classes to paste for every sample.

        Args:
            source_labels (Tensor): [B, H, W] int64 source labels.
            generator (torch.Generator, optional): CPU generator for the draws.

        Returns:
            Tensor: [B, L] bool on the labels' device, ``L = max label + 1``; row i is True at the
            classes drawn for sample i.
        """
        num_labels = int(source_labels.max().item()) + 1 if source_labels.numel() else 1
        if self.always_paste_ignore:
            num_labels = max(num_labels, self.ignore_index + 1)
        chosen = torch.zeros(source_labels.shape[0], num_labels, dtype=torch.bool)
        batch_classes = self._candidates(source_labels).cpu() if self.batch_unique else None
        for i in range(source_labels.shape[0]):
            classes = batch_classes if self.batch_unique else self._candidates(source_labels[i]).cpu()
            n = classes.numel()
            if n == 0:
                continue
            picks = torch.randperm(n, generator=generator)[:(n + 1) // 2 if self.half == 'ceil'
                                                           else n // 2]
            chosen[i, classes[picks]] = True
        if self.always_paste_ignore:
            chosen[:, self.ignore_index] = True
        return chosen.to(source_labels.device)

    def class_mask(self, source_labels: Tensor,
                   generator: Optional[torch.Generator] = None) -> Tensor:
        """[B, H, W] bool, True on the source pixels of the drawn classes (see
        :meth:`choose_classes`) of ``source_labels`` [B, H, W] (or [B, 1, H, W])."""
        source_labels = _squeeze_labels(source_labels)
        chosen = self.choose_classes(source_labels, generator)  # [B, L]
        batch = source_labels.shape[0]
        return chosen.gather(1, source_labels.reshape(batch, -1)).view_as(source_labels)

    def forward(self,
                source_img: Tensor,
                source_labels: Tensor,
                target_img: Tensor,
                target_labels: Tensor,
                target_weights: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None) -> MixedBatch:
        """Mix each source sample into the target sample of the same index.

        Args:
            source_img (Tensor): [B, 3, H, W] normalised source images.
            source_labels (Tensor): [B, H, W] or [B, 1, H, W] int source labels (255 = ignore).
            target_img (Tensor): [B, 3, H, W] normalised target images.
            target_labels (Tensor): [B, H, W] or [B, 1, H, W] int target pseudo-labels.
            target_weights (Tensor, optional): [B, H, W] pseudo-label weights; None means 1 on labelled
                pixels.
            generator (torch.Generator, optional): CPU generator for the class draws.

        Returns:
            MixedBatch: img [B, 3, H, W], labels [B, H, W], weights [B, H, W], mask [B, 1, H, W].
        """
        source_labels = _squeeze_labels(source_labels)
        target_labels = _squeeze_labels(target_labels)
        if source_img.shape != target_img.shape or source_labels.shape != target_labels.shape:
            raise ValueError('source and target batches must have the same shapes, got '
                             f'{tuple(source_img.shape)} / {tuple(target_img.shape)} and '
                             f'{tuple(source_labels.shape)} / {tuple(target_labels.shape)}')
        if target_weights is None:
            target_weights = (target_labels != self.ignore_index).float()
        mask = self.class_mask(source_labels, generator)
        img = torch.where(mask.unsqueeze(1), source_img, target_img)
        labels = torch.where(mask, source_labels, target_labels)
        weights = torch.where(mask, torch.ones_like(target_weights, dtype=torch.float32),
                              target_weights.float())
        weights = weights.masked_fill(labels == self.ignore_index, 0.0)
        return MixedBatch(img=img, labels=labels, weights=weights, mask=mask.unsqueeze(1))


def _squeeze_labels(labels: Tensor) -> Tensor:
    if labels.dim() == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dim() != 3:
        raise ValueError(f'labels must be [B, H, W] or [B, 1, H, W], got {tuple(labels.shape)}')
    return labels.long()
