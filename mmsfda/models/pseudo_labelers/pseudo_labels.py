"""The one output type of every pseudo-labeler."""
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from torch import Tensor

IGNORE_INDEX = 255


@dataclass
class PseudoLabels:
    """Pseudo-labels of a target batch.

    Attributes:
        labels (Tensor): [B, H, W] int64 class ids, ``255`` where no label is given.
        weights (Tensor): [B, H, W] float in [0, 1], the per-pixel loss weight (0 on ignored pixels).
        probs (Tensor | None): [B, C, H, W] the teacher's probabilities the labels were made from
            (for soft targets and statistics); None for labels read back from files.
        extras (dict): method-specific outputs, e.g. ``'negatives'`` [B, C, H, W] bool (negative
            labels), ``'uncertainty'`` [C], ``'mix_mask'`` [B, 1, H, W].
        thresholds (Tensor | None): [C] the per-class confidence thresholds the labels were
            selected with (class-balanced labelers; for offline labels, those of the round), or
            None. Read by losses that weight classes by them (Cal-SFDA's symmetric CE).
    """
    labels: Tensor
    weights: Tensor
    probs: Optional[Tensor] = None
    extras: Dict[str, Any] = field(default_factory=dict)
    thresholds: Optional[Tensor] = None

    @property
    def valid(self) -> Tensor:
        """[B, H, W] bool, pixels that carry a label."""
        return self.labels != IGNORE_INDEX
