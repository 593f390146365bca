"""The protocol of a student segmentor whose adaptation forwards are its own (multi-resolution)."""
from typing import Dict, Tuple

from torch import Tensor

from .student_outputs import StudentOutputs


class AdaptationStudent:
    """A segmentor that runs the adaptation segmentor's three forwards itself.

    :class:`~mmsfda.models.segmentors.BaseAdaptationSegmentor` trains and labels with any mmseg
    segmentor by calling ``extract_feat`` and ``decode_head`` at the input resolution. A student
    whose forward is not that (HRDA: a downscaled context view and a full-resolution detail crop,
    sliding-window labels) subclasses this mixin beside its mmseg segmentor class and implements
    the three methods; the adaptation segmentor then calls them instead (one ``isinstance`` check on
    this protocol, no per-method branch).
    """

    def adaptation_outputs(self, img: Tensor) -> StudentOutputs:
        """The training forward with gradients (what ``student_forward`` returns).

        Args:
            img (Tensor): [B, 3, H, W] normalised input.

        Returns:
            StudentOutputs: ``logits`` [B, C, H, W] at the input resolution, and ``views`` /
            ``loss_weight`` where the student trains more than one prediction.
        """
        raise NotImplementedError

    def supervised_adaptation_outputs(self, img: Tensor,
                                      samples) -> Tuple[Dict[str, Tensor], StudentOutputs]:
        """The supervised loss on labelled ``samples`` (the ``decode.*`` losses of mmseg's ``loss``)
        and the outputs of that same forward (for methods that reuse source features)."""
        raise NotImplementedError

    def label_logits(self, img: Tensor) -> Tensor:
        """Logits [B, C, H, W] at the input resolution for pseudo-labelling (no gradients)."""
        raise NotImplementedError
