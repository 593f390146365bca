"""The interface every pseudo-labeler implements: teacher probabilities in, :class:`PseudoLabels` out."""
from typing import Optional

import torch
from torch import Tensor, nn

from .pseudo_labels import IGNORE_INDEX, PseudoLabels


class BasePseudoLabeler(nn.Module):
    """Turn the teacher's probabilities of a target batch into :class:`PseudoLabels`.

    ``labeler(probs, **ctx)`` runs :meth:`forward`, which validates and sanitises the input, calls the
    selection rule :meth:`select` of the subclass, and enforces the contract on its output:

    * ``labels`` is [B, H, W] int64 with ``255`` (:data:`IGNORE_INDEX`) where no label is given;
    * ``weights`` is [B, H, W] float32 in [0, 1] and is 0 wherever ``labels == 255``;
    * no NaN or Inf ever leaves a labeler. Pixels outside ``ctx['valid_mask']`` and pixels whose
      probabilities are not finite are invalid: label 255, weight 0. A batch without any valid pixel
      gives all-255 labels and all-zero weights.

    Labelers are ``nn.Module`` so that running state (class thresholds, statistics, round numbers) is a
    registered buffer: it follows the model across devices and survives checkpoint and resume.
    Labelling never builds a graph (it runs under ``torch.no_grad``).

    Zero weights are a normal output (no confident pixel, or an all-ignored batch). Loss helpers that
    normalise a weighted sum by the sum of the weights must divide by ``max(weights.sum(), eps)``. Note
    that DAFormer's pixel-weighted cross-entropy divides by the number of pixels, not by the weight sum;
    only that normalisation keeps the DACS scalar pseudo-weight meaningful (a weight-sum normalisation
    cancels it).

    Context keys understood by every labeler (others are passed on to :meth:`select` untouched):
        valid_mask (Tensor, optional): [B, H, W] bool, False on pixels that must not be labelled
            (e.g. padding added by the data preprocessor).
    """

    ignore_index = IGNORE_INDEX

    @torch.no_grad()
    def forward(self, probs: Tensor, valid_mask: Optional[Tensor] = None, **ctx) -> PseudoLabels:
        """Label a target batch.

        Args:
            probs (Tensor): [B, C, H, W] class probabilities of the teacher (softmax output).
            valid_mask (Tensor, optional): [B, H, W] bool, pixels that may be labelled.
            **ctx: context of the step (``img_metas``, ``iter``, ...), passed to :meth:`select`.

        Returns:
            PseudoLabels: labels [B, H, W] int64, weights [B, H, W] float32, probs [B, C, H, W]
            (sanitised: zeros on non-finite pixels), extras of the rule.
        """
        if probs.dim() != 4:
            raise ValueError(f'probs must be [B, C, H, W], got shape {tuple(probs.shape)}')
        probs = probs.detach()
        valid = torch.isfinite(probs).all(dim=1)
        if valid_mask is not None:
            if valid_mask.shape != valid.shape:
                raise ValueError(f'valid_mask must be [B, H, W] = {tuple(valid.shape)}, '
                                 f'got {tuple(valid_mask.shape)}')
            valid = valid & valid_mask.to(device=valid.device, dtype=torch.bool)
        if not bool(valid.all()):
            # Zero probabilities fall below every threshold; the labels are overwritten below anyway.
            probs = torch.where(valid.unsqueeze(1), probs, probs.new_zeros(()))
        out = self.select(probs, valid, **ctx)
        return self._enforce_contract(out, valid)

    def select(self, probs: Tensor, valid: Tensor, **ctx) -> PseudoLabels:
        """The selection rule of the labeler.

        Args:
            probs (Tensor): [B, C, H, W] finite probabilities (zeros on invalid pixels).
            valid (Tensor): [B, H, W] bool, pixels that may be labelled.

        Returns:
            PseudoLabels: the rule's labels and weights; :meth:`forward` sets label 255 and weight 0
            on invalid pixels and weight 0 on every pixel labelled 255.
        """
        raise NotImplementedError

    def _enforce_contract(self, out: PseudoLabels, valid: Tensor) -> PseudoLabels:
        labels = out.labels.long()
        labels = labels.masked_fill(~valid, self.ignore_index)
        weights = torch.nan_to_num(out.weights.float(), nan=0.0, posinf=0.0, neginf=0.0)
        weights = weights.clamp(0.0, 1.0).masked_fill(labels == self.ignore_index, 0.0)
        return PseudoLabels(labels=labels, weights=weights, probs=out.probs, extras=out.extras)
