"""Batch-normalised robust entropy, Cal-SFDA's entropy term (the FDA Charbonnier form).

FDA (Yang & Soatto, CVPR 2020) penalises the per-pixel entropy with the Charbonnier function
``(H^2 + 1e-8)^eta``, which for ``eta > 0.5`` weighs confident (low-entropy) pixels less than
uncertain ones. Cal-SFDA's public code normalises H by its maximum over the batch instead of by
``log C``:

    L = (1/N) * sum_i (Hn_i^2 + 1e-8)^eta,  Hn_i = H_i / max_j H_j,  eta = 2,

over all N = B*H*W pixels. In Cal-SFDA's total loss this term is multiplied by a weight its code
calls ``eta`` as well; here that weight is ``loss_weight`` and ``eta`` is the exponent.

The public entropy helper applies the softmax twice (``p = softmax(x)``, then
``log_softmax(p)``), a bug that is not replicated: H is the entropy of one ``softmax(logits)``.
"""
import math

import torch
from torch import Tensor

from mmseg.registry import MODELS

from .entropy_loss import EntropyLoss, entropy_map

_NORMALIZES = ('batch_max', 'log_C')


def robust_entropy_loss(seg_logits: Tensor, eta: float = 2.0,
                        normalize: str = 'batch_max') -> Tensor:
    """Mean over all pixels of ``(Hn^2 + 1e-8)^eta``, ``Hn`` the normalised per-pixel entropy.

    * ``normalize='batch_max'``: ``Hn = H / max(H)``, the max over all pixels of all images of
      the batch (Cal-SFDA). The max is **detached**: it acts as a scale only. Back-propagating
      through it (as the public code does) sends every other pixel's term into the arg-max
      pixel, whose gradient then *raises* its entropy; detached, every pixel's entropy is
      lowered. If every entropy is 0 then ``Hn = 0`` (no 0/0).
    * ``normalize='log_C'``: ``Hn = H / log C`` (FDA), in [0, 1].

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W). Computed in float32 at least.
        eta (float): Charbonnier exponent. Defaults to 2.0.
        normalize (str): 'batch_max' or 'log_C', see above.

    Returns:
        Tensor: Scalar loss, in ``[1e-8^eta, (1 + 1e-8)^eta]``.
    """
    if normalize not in _NORMALIZES:
        raise ValueError(f'normalize must be one of {_NORMALIZES}, got {normalize!r}')
    ent = entropy_map(seg_logits)  # (B, H, W), nats
    if normalize == 'batch_max':
        ent = ent / ent.detach().max().clamp(min=torch.finfo(ent.dtype).tiny)
    else:
        ent = ent / math.log(seg_logits.shape[1])
    return (ent.pow(2) + 1e-8).pow(eta).mean()


@MODELS.register_module()
class RobustEntropyLoss(EntropyLoss):
    """Cal-SFDA's robust entropy on the target predictions, a target loss.

    Args:
        eta (float): Charbonnier exponent. Defaults to 2.0 (FDA, Cal-SFDA).
        normalize (str): 'batch_max' (divide by the batch's max entropy, detached; Cal-SFDA) or
            'log_C' (FDA). Defaults to 'batch_max'.
        loss_weight (float): Multiplier of the loss (Cal-SFDA's config ``eta``). Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_``. Defaults to
            'loss_robust_entropy'.
    """

    def __init__(self,
                 eta: float = 2.0,
                 normalize: str = 'batch_max',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_robust_entropy'):
        if normalize not in _NORMALIZES:
            raise ValueError(f'normalize must be one of {_NORMALIZES}, got {normalize!r}')
        super().__init__(eta=eta, loss_weight=loss_weight, loss_name=loss_name)
        self.normalize = normalize

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """``loss_weight * robust_entropy_loss(seg_logits)``; shape (B, C, H, W) in, scalar out."""
        return self.loss_weight * robust_entropy_loss(seg_logits, eta=self.eta,
                                                      normalize=self.normalize)
