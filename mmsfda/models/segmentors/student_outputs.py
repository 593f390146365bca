"""What the student's forward pass of one adaptation step hands to the target losses."""
from dataclasses import dataclass
from typing import Optional, Tuple

from torch import Tensor


@dataclass
class LogitView:
    """Extra logits of the student on a region of its input, trained with the same target losses.

    A multi-resolution student (HRDA's detail crop) adds its views to :class:`StudentOutputs`; the
    adaptation segmentor applies every target loss to each view with the pseudo-labels cropped to
    ``box`` and scales it by ``weight`` (loss key ``<name>.<loss_name>``).

    Attributes:
        name (str): Prefix of the view's loss keys, e.g. ``'detail'``.
        logits (Tensor): [B, C, y2 - y1, x2 - x1] logits resized to the input resolution of the
            region.
        box (tuple[int, int, int, int]): ``(y1, y2, x1, x2)``, the region in input pixels.
        weight (float): Multiplier of the view's losses (HRDA's detail loss weight, 0.1).
    """
    name: str
    logits: Tensor
    box: Tuple[int, int, int, int]
    weight: float


@dataclass
class StudentOutputs:
    """The student's outputs for the images it was trained on in this step.

    Logit losses read ``logits``; feature-level losses (prototype contrast, distillation,
    discriminators) read the features. Every target loss receives it as ``outputs=``.

    Attributes:
        logits (Tensor): [B, C, H, W] decode-head logits resized to the (padded) input resolution,
            where labels and pseudo-label weights live.
        decoder_logits (Tensor): [B, C, h, w] the decode head's raw output (feature resolution).
        backbone_feats (tuple[Tensor]): The backbone's (neck's) multi-level features, each
            [B, C_l, h_l, w_l], as ``extract_feat`` returns them.
        decoder_feats (Tensor, optional): [B, D, h, w] the decode head's features before its
            classifier (``_forward_feature``); only when the segmentor was built with
            ``decoder_features=True``.
        source (StudentOutputs, optional): The same for the source batch of a UDA step, when the
            method's ``source_loss`` step keeps it (e.g. for a discriminator).
        aux_logits (Tensor, optional): [B, C, h, w] the auxiliary head's raw output, when a method
            asks for it (multi-level adversarial training: AdaptSegNet).
        backbone_input (Tensor, optional): [B, 3, h, w] the image ``backbone_feats`` were computed
            from: the input itself, or a multi-resolution student's scaled view of it (HRDA's
            half-resolution context image), so a reference network (DAFormer's ImageNet copy)
            sees the same image.
        views (tuple[LogitView]): Extra logits on regions of the input (HRDA's detail crop).
        loss_weight (float): Multiplier of the target losses of ``logits`` (HRDA: 1 - 0.1, the
            fused prediction's share beside the detail view). Defaults to 1.
    """
    logits: Tensor
    decoder_logits: Tensor
    backbone_feats: Tuple[Tensor, ...]
    decoder_feats: Optional[Tensor] = None
    source: Optional['StudentOutputs'] = None
    aux_logits: Optional[Tensor] = None
    backbone_input: Optional[Tensor] = None
    views: Tuple[LogitView, ...] = ()
    loss_weight: float = 1.0
