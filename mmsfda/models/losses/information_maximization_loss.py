"""Information maximisation, the SHOT-IM objective (Liang et al., ICML 2020) for segmentation.

SHOT-IM makes each prediction confident (low entropy) and the predictions diverse as a whole (high
entropy of the mean prediction, so that not every pixel collapses onto one class):

    L = w_ent * (1/N) sum_i H(p_i) - w_div * H( (1/N) sum_i p_i )

The classification original averages over the images of a batch; for segmentation the N
"samples" are the B*H*W pixels of the batch. No pseudo-labels are involved.
"""
import math

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


def information_maximization_loss(seg_logits: Tensor,
                                  ent_weight: float = 1.0,
                                  div_weight: float = 1.0,
                                  normalize: bool = False) -> Tensor:
    """``ent_weight * mean_i H(p_i) - div_weight * H(mean_i p_i)`` over all pixels of the batch.

    The mean prediction is computed in log space, ``log pbar_c = logsumexp_i log p_ic - log N``,
    so its entropy is exact and has finite gradients when a class is absent (SHOT adds
    ``eps = 1e-5`` inside the log instead; the values agree to ~1e-5).

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W). Computed in float32 at least.
        ent_weight (float): Weight of the mean per-pixel entropy (the confidence term).
        div_weight (float): Weight of the diversity term, the entropy of the batch-mean prediction.
        normalize (bool): Divide both entropies by ``log C`` (each in [0, 1]).

    Returns:
        Tensor: Scalar loss; in nats, between ``-div_weight * log C`` and ``ent_weight * log C``.
    """
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    num_classes = logits.shape[1]
    log_p = logits.transpose(0, 1).reshape(num_classes, -1).log_softmax(dim=0)  # (C, N)
    ent = -(log_p.exp() * log_p).sum(dim=0).mean()
    log_mean = torch.logsumexp(log_p, dim=1) - math.log(log_p.shape[1])  # (C,)
    div = -(log_mean.exp() * log_mean).sum()
    if normalize:
        ent, div = ent / math.log(num_classes), div / math.log(num_classes)
    return ent_weight * ent - div_weight * div


@MODELS.register_module()
class InformationMaximizationLoss(nn.Module):
    """SHOT-IM information maximisation on the target predictions, a target loss.

    Args:
        ent_weight (float): Weight of the mean entropy term. Defaults to 1.0.
        div_weight (float): Weight of the diversity term (SHOT: 1.0). Defaults to 1.0.
        normalize (bool): Entropies divided by ``log C``. Defaults to False.
        loss_weight (float): Multiplier of the whole loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to 'loss_im'.
    """

    def __init__(self,
                 ent_weight: float = 1.0,
                 div_weight: float = 1.0,
                 normalize: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_im'):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.ent_weight = ent_weight
        self.div_weight = div_weight
        self.normalize = normalize
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """Compute the loss.

        Args:
            seg_logits (Tensor): Student logits, shape (B, C, H, W).
            pseudo_labels (PseudoLabels, optional): Not used.
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar (can be negative: the diversity term is subtracted).
        """
        return self.loss_weight * information_maximization_loss(
            seg_logits, self.ent_weight, self.div_weight, self.normalize)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
