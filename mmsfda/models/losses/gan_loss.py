"""The adversarial objective on a discriminator's logits: BCE (vanilla GAN) or least squares."""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

GAN_MODES = ('bce', 'lsgan')


def gan_loss(d_logits: Tensor, label: float, mode: str = 'bce') -> Tensor:
    """Mean loss of discriminator logits against a constant domain label.

    Args:
        d_logits (Tensor): [B, 1, h, w] discriminator outputs (logits).
        label (float): The domain the outputs should be taken for (0 source, 1 target).
        mode (str): ``'bce'``: binary cross-entropy with logits (AdaptSegNet, AdvEnt);
            ``'lsgan'``: mean squared error of the raw outputs (Mao et al., 2017).

    Returns:
        Tensor: Scalar loss.
    """
    target = torch.full_like(d_logits, float(label))
    if mode == 'bce':
        return F.binary_cross_entropy_with_logits(d_logits.float(), target.float())
    if mode == 'lsgan':
        return F.mse_loss(d_logits.float(), target.float())
    raise ValueError(f'GAN loss mode must be one of {GAN_MODES}, got {mode!r}')


@MODELS.register_module()
class GANLoss(nn.Module):
    """:func:`gan_loss` with its mode and weight.

    Args:
        mode (str): ``'bce'`` or ``'lsgan'``. Defaults to 'bce'.
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self, mode: str = 'bce', loss_weight: float = 1.0):
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f'GAN loss mode must be one of {GAN_MODES}, got {mode!r}')
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, d_logits: Tensor, label: float) -> Tensor:
        return self.loss_weight * gan_loss(d_logits, label, self.mode)
