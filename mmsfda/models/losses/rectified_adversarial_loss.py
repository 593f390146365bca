"""UPLR's target-guided rectification of the adversarial term (TGAA; Wang et al., ICCV 2021).

The segmenter's adversarial loss on target images is weighted per pixel toward the classes the
model is uncertain of on the target. The paper names the idea ("target-guided uncertainty
rectifying") without a formula that we could verify; the two forms here are reconstructions ([U],
documented in configs/uplr/README.md), chosen in the config (``UPLRSegmentor.rectifier``):

* ``'ratio'``: ``r_i = I^{y_i} / mean_c I^c`` (mean over the classes predicted on the target);
* ``'top_k'``: ``r_i = 1 + [y_i in S_k]``;

with ``y_i`` the segmenter's current prediction of target pixel i.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

RECTIFIERS = ('ratio', 'top_k')


def uncertainty_rectifier(pred: Tensor, class_uncertainty: Tensor, uncertain: Tensor,
                          present: Tensor, form: str) -> Tensor:
    """Per-pixel rectification weights.

    Args:
        pred (Tensor): [B, H, W] int64 predicted classes of the target pixels.
        class_uncertainty (Tensor): [C] ``I^c``.
        uncertain (Tensor): [C] bool, ``S_k``.
        present (Tensor): [C] bool, classes with a defined ``I^c`` (predicted on the target).
        form (str): ``'ratio'`` or ``'top_k'``.

    Returns:
        Tensor: [B, H, W] float32 weights >= 0 (all 1 when no class uncertainty is known yet).
    """
    if form not in RECTIFIERS:
        raise ValueError(f'rectifier must be one of {RECTIFIERS}, got {form!r}')
    if form == 'top_k':
        return 1.0 + uncertain.to(pred.device)[pred].float()
    values = class_uncertainty.to(pred.device).float()
    present = present.to(pred.device)
    mean = values[present].mean() if bool(present.any()) else values.new_zeros(())
    if not bool(mean > 0):  # nothing computed yet, or every class certain: no rectification
        return torch.ones(pred.shape, dtype=torch.float32, device=pred.device)
    return values[pred] / mean


def rectified_gan_loss(d_logits: Tensor, label: float, weight: Tensor, mode: str = 'bce',
                       normalize: bool = True) -> Tensor:
    """The GAN loss of :func:`~mmsfda.models.losses.gan_loss.gan_loss`, each discriminator cell
    weighted by the mean rectification weight of the pixels it covers.

    Args:
        d_logits (Tensor): [B, 1, h, w] discriminator logits.
        label (float): The domain the outputs should be taken for (0 source, 1 target).
        weight (Tensor): [B, H, W] per-pixel weights at the input resolution (area-averaged to
            [h, w], as the discriminator's receptive fields tile the input).
        mode (str): ``'bce'`` or ``'lsgan'``.
        normalize (bool): Rescale the cell weights to mean 1 over the batch, so that the
            rectifier moves the adversarial term toward uncertain classes without changing its
            overall size (``lambda_adv`` keeps AdvEnt's meaning) ([U]). Defaults to True.

    Returns:
        Tensor: Scalar, the mean over cells of weight x loss.
    """
    w = F.adaptive_avg_pool2d(weight[:, None].float(), d_logits.shape[2:])
    if normalize:
        w = w / w.mean().clamp_min(torch.finfo(w.dtype).tiny)
    target = torch.full_like(d_logits, float(label)).float()
    if mode == 'bce':
        per = F.binary_cross_entropy_with_logits(d_logits.float(), target, reduction='none')
    elif mode == 'lsgan':
        per = F.mse_loss(d_logits.float(), target, reduction='none')
    else:
        raise ValueError(f'GAN loss mode must be bce or lsgan, got {mode!r}')
    return (per * w).mean()
