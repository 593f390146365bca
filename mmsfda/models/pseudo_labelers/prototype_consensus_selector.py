"""Threshold-free dynamic pseudo-label selection by prototype consensus (DiGA).

DiGA (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.3, "threshold-free dynamic pseudo-label
selection", the "bilateral consensus" of its code) keeps an offline pseudo-label only where the
nearest class prototype of the *current* teacher features agrees with it:

    p_proto = softmax_c(-||f_T(i) - mu_c||_2), upsampled (bilinear) to the label size
    y_proto(i) = argmax_c p_proto(i)
    y(i) = y_off(i)  if y_off(i) == y_proto(i)  else 255

No confidence or per-class threshold. The selection is dynamic because the teacher and the
prototypes evolve while the offline label stays fixed.
"""
import torch
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from .pseudo_labels import IGNORE_INDEX, PseudoLabels


def prototype_consensus(offline_labels: Tensor, proto_probs: Tensor,
                        align_corners: bool = False) -> PseudoLabels:
    """The selection of the module docstring.

    Args:
        offline_labels (Tensor): [B, H, W] int offline labels (255 = none).
        proto_probs (Tensor): [B, C, h, w] prototype probabilities at the feature resolution.
        align_corners (bool): Of the bilinear upsampling (the segmenter's).

    Returns:
        PseudoLabels: labels [B, H, W] (255 where rejected), weights 1 on kept pixels, probs
        [B, C, H, W] (the upsampled prototype probabilities), extras ``proto_label`` [B, H, W]
        and ``prediction`` [B, H, W] (the offline labels, so that the pseudo-label statistics'
        per-class ``kept`` is the share of each class's offline labels that survive).
    """
    if offline_labels.dim() != 3 or proto_probs.dim() != 4 or \
            offline_labels.shape[0] != proto_probs.shape[0]:
        raise ValueError(f'prototype_consensus: offline labels [B, H, W] and prototype '
                         f'probabilities [B, C, h, w] are expected, got '
                         f'{tuple(offline_labels.shape)} and {tuple(proto_probs.shape)}')
    probs = resize(proto_probs, size=offline_labels.shape[1:], mode='bilinear',
                   align_corners=align_corners)
    proto_label = probs.argmax(1)
    offline = offline_labels.long()
    keep = (offline == proto_label) & (offline != IGNORE_INDEX)
    labels = offline.masked_fill(~keep, IGNORE_INDEX)
    return PseudoLabels(labels=labels, weights=keep.float(), probs=probs,
                        extras=dict(proto_label=proto_label, prediction=offline))


@MODELS.register_module()
class PrototypeConsensusSelector(nn.Module):
    """DiGA's bilateral consensus between offline labels and nearest prototypes (module docstring).

    Args:
        align_corners (bool): Of the upsampling of the prototype probabilities. Defaults to False.
    """

    def __init__(self, align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners

    @torch.no_grad()
    def forward(self, offline_labels: Tensor, proto_probs: Tensor) -> PseudoLabels:
        return prototype_consensus(offline_labels, proto_probs, self.align_corners)
