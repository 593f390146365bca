"""The interface every pseudo-labeler implements: teacher probabilities in, :class:`PseudoLabels` out.

It also declares the offline (round-based) protocol that
:func:`mmsfda.engine.pseudo_labeling.label_dataset` drives: :meth:`set_round`,
:meth:`reset_stats` / :meth:`accumulate` / :meth:`finalize` (dataset statistics, for labelers whose
:attr:`needs_statistics` is True) and :meth:`round_state` / :meth:`load_round_state`.
"""
import dataclasses
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from .pseudo_labels import IGNORE_INDEX, PseudoLabels


def finite_pixels(probs: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
    """[B, H, W] bool: pixels whose probabilities are all finite, and inside ``valid_mask``.

    A pixel is finite when the sum of its C probabilities is: NaN, +inf and -inf anywhere make the
    sum non-finite (so does an overflow of finite values above 3e38, which no probability has).
    One reduction over C instead of a [B, C, H, W] ``isfinite`` map: half the cost on CPU.

    Args:
        probs (Tensor): [B, C, H, W].
        valid_mask (Tensor, optional): [B, H, W] bool (or 0/1), pixels that may be labelled.
    """
    valid = torch.isfinite(probs.sum(dim=1))
    if valid_mask is not None:
        if valid_mask.shape != valid.shape:
            raise ValueError(f'valid_mask must be [B, H, W] = {tuple(valid.shape)}, '
                             f'got {tuple(valid_mask.shape)}')
        valid = valid & valid_mask.to(device=valid.device, dtype=torch.bool)
    return valid


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

    **Offline protocol** (what :func:`~mmsfda.engine.pseudo_labeling.label_dataset` calls to label a
    whole target set for self-training round ``r``):

    1. :meth:`set_round` ``(r)``: labelers whose rule grows over rounds (CBST's proportions) read the
       ``round`` buffer.
    2. If :attr:`needs_statistics`: :meth:`reset_stats`, :meth:`accumulate` on every batch of the
       set, :meth:`finalize` (which reduces over ranks). Pass 2 then labels with the result.
    3. :meth:`round_state` is saved beside the round's files; a resumed or reused round calls
       :meth:`load_round_state`, so the labeler holds the state the round was labelled with (the
       thresholds a threshold-weighted loss reads) whether the round was just labelled or not.

    One-pass labelers (this base class) keep the defaults: no statistics, ``accumulate`` refuses.

    Context keys understood by every labeler (others are passed on to :meth:`select` untouched):
        valid_mask (Tensor, optional): [B, H, W] bool, False on pixels that must not be labelled
            (e.g. padding added by the data preprocessor).
    """

    ignore_index = IGNORE_INDEX

    def __init__(self):
        super().__init__()
        # The self-training round being labelled (a buffer: saved in checkpoints, resumed).
        self.register_buffer('round', torch.zeros((), dtype=torch.long))

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
        valid = finite_pixels(probs, valid_mask)
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
            on invalid pixels and weight 0 on every pixel labelled 255. Rules that compute the
            argmax anyway put it in ``extras['prediction']`` ([B, H, W] int64), so statistics need
            not compute it again.
        """
        raise NotImplementedError

    def _enforce_contract(self, out: PseudoLabels, valid: Tensor) -> PseudoLabels:
        labels = out.labels.long()
        labels = labels.masked_fill(~valid, self.ignore_index)
        weights = torch.nan_to_num(out.weights.float(), nan=0.0, posinf=0.0, neginf=0.0)
        weights = weights.clamp(0.0, 1.0).masked_fill(labels == self.ignore_index, 0.0)
        return dataclasses.replace(out, labels=labels, weights=weights)

    # ----- offline protocol ---------------------------------------------------------------------
    def set_round(self, r: int) -> None:
        """Label for self-training round ``r`` (0-based); stored in the ``round`` buffer."""
        if int(r) != r or r < 0:
            raise ValueError(f'the round must be an int >= 0, got {r!r}')
        self.round.fill_(int(r))

    @property
    def needs_statistics(self) -> bool:
        """Whether labelling needs a statistics pass over the whole set first
        (:meth:`reset_stats`, :meth:`accumulate`, :meth:`finalize`). False here."""
        return False

    def reset_stats(self) -> None:
        """Start a statistics pass (clear what :meth:`accumulate` sums). Nothing to clear here."""

    @torch.no_grad()
    def accumulate(self, probs: Tensor, valid: Optional[Tensor] = None, **ctx) -> None:
        """Add a batch to the dataset statistics (pass 1 of a two-pass labeler).

        Args:
            probs (Tensor): [B, C, H, W] teacher probabilities of a batch of the set.
            valid (Tensor, optional): [B, H, W] bool, pixels to count (also required finite).
            **ctx: per-image context of the teacher (e.g. ``est_ece`` [B]).
        """
        if not self.needs_statistics:
            raise RuntimeError(f'{type(self).__name__} labels batch by batch: it keeps no dataset '
                               'statistics (needs_statistics is False), do not call accumulate()')
        if probs.dim() != 4:
            raise ValueError(f'probs must be [B, C, H, W], got shape {tuple(probs.shape)}')
        probs = probs.detach()
        self._accumulate(probs, finite_pixels(probs, valid), **ctx)

    def _accumulate(self, probs: Tensor, valid: Tensor, **ctx) -> None:
        """Subclass hook of :meth:`accumulate`: ``valid`` [B, H, W] is final (finite pixels)."""
        raise NotImplementedError(f'{type(self).__name__} says needs_statistics but does not '
                                  'implement _accumulate()')

    def finalize(self) -> Optional[Tensor]:
        """End a statistics pass: turn the sums (reduced over ranks: every rank must call this)
        into the labelling state. Returns the new thresholds [C] where the rule has any; None
        here."""
        return None

    def round_state(self) -> Dict[str, Tensor]:
        """The state a round is labelled with (every persistent buffer: ``round``, and e.g.
        ``thresholds`` [C]), as CPU copies; :meth:`load_round_state` restores it."""
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}

    def load_round_state(self, state: Dict[str, Tensor], source: str = 'the saved state') -> None:
        """Restore what :meth:`round_state` returned; ``source`` names it in errors."""
        own = self.state_dict()
        if set(state) != set(own):
            raise ValueError(f'{source} holds the labeler state {sorted(state)}, but '
                             f'{type(self).__name__} has {sorted(own)}')
        for k, v in state.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f'{source}: labeler state {k!r} has shape {tuple(v.shape)}, '
                                 f'{type(self).__name__} expects {tuple(own[k].shape)}')
        self.load_state_dict(state)
