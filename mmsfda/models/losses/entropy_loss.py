"""Mean prediction entropy, the TENT objective (Wang et al., ICLR 2021) and MinEnt (Vu et al. 2019).

TENT adapts a source model by minimising the Shannon entropy of its own predictions on the target
data (usually with only the BatchNorm affine parameters trainable; that is the optimizer config's
business, not this loss's). No pseudo-labels are involved: ``pseudo_labels`` may be None.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


def entropy_map(seg_logits: Tensor, normalize: bool = False) -> Tensor:
    """Per-pixel Shannon entropy ``H = -sum_c p_c log p_c`` of ``p = softmax(seg_logits)``.

    Computed as ``-sum_c softmax * log_softmax``, which stays finite when a probability underflows
    to 0 (no ``log(p + eps)``).

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W) (any (B, C, ...) works). Computed in
            float32 at least.
        normalize (bool): Divide by ``log C`` so that the entropy lies in [0, 1].

    Returns:
        Tensor: Entropy in nats (or normalised), shape (B, H, W).
    """
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    log_p = logits.log_softmax(dim=1)
    ent = -(log_p.exp() * log_p).sum(dim=1)
    if normalize:
        ent = ent / math.log(seg_logits.shape[1])
    return ent


def entropy_loss(seg_logits: Tensor,
                 normalize: bool = False,
                 eta: Optional[float] = None,
                 weight: Optional[Tensor] = None) -> Tensor:
    """Mean per-pixel entropy of the softmax prediction.

    ``L = (1/N) * sum_i H_i`` over the N = B*H*W pixels, or with ``eta`` the robust (Charbonnier)
    entropy of FDA (Yang & Soatto, CVPR 2020): ``L = (1/N) * sum_i (H_i^2 + 1e-8)^eta`` (FDA uses
    ``eta=2`` with ``normalize=True``).

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W).
        normalize (bool): Entropy divided by ``log C`` (in [0, 1]). Defaults to False (nats).
        eta (float, optional): Charbonnier exponent; None is the plain entropy.
        weight (Tensor, optional): Per-pixel weights, shape (B, H, W); the result is then
            ``sum_i w_i * H_i / N`` (a mask with 0 drops pixels but keeps the 1/N). None: all 1.

    Returns:
        Tensor: Scalar loss.
    """
    ent = entropy_map(seg_logits, normalize=normalize)
    if eta is not None:
        ent = (ent.pow(2) + 1e-8).pow(eta)
    if weight is not None:
        ent = ent * weight.to(ent.dtype)
    return ent.mean()


@MODELS.register_module()
class EntropyLoss(nn.Module):
    """Entropy minimisation on the target predictions (TENT, MinEnt), a target loss.

    Args:
        normalize (bool): Divide the entropy by ``log C``. Defaults to False.
        eta (float, optional): FDA's Charbonnier exponent, see :func:`entropy_loss`. Defaults to
            None (plain entropy).
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to
            'loss_entropy'.
    """

    def __init__(self,
                 normalize: bool = False,
                 eta: Optional[float] = None,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_entropy'):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.normalize = normalize
        self.eta = eta
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """Compute the loss.

        Args:
            seg_logits (Tensor): Student logits, shape (B, C, H, W).
            pseudo_labels (PseudoLabels, optional): Not used (entropy needs no labels).
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar, ``loss_weight * mean entropy``.
        """
        return self.loss_weight * entropy_loss(seg_logits, normalize=self.normalize, eta=self.eta)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
