"""DACS / DAFormer strong photometric augmentation (colour jitter + Gaussian blur) on image tensors."""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_EPS = 1e-8


def rgb_to_hsv(img: Tensor) -> Tensor:
    """[B, 3, H, W] RGB in [0, 1] -> HSV with hue in radians [0, 2*pi), saturation and value in [0, 1]."""
    maxc, argmax = img.max(dim=1)
    minc = img.min(dim=1).values
    delta = maxc - minc
    sat = delta / (maxc + _EPS)
    safe = torch.where(delta == 0, torch.ones_like(delta), delta)
    r, g, b = img.unbind(dim=1)
    hue = torch.where(argmax == 0, (g - b) / safe,
                      torch.where(argmax == 1, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = torch.where(delta == 0, torch.zeros_like(hue), hue)
    hue = torch.remainder(hue / 6.0, 1.0) * (2 * math.pi)
    return torch.stack((hue, sat, maxc), dim=1)


def hsv_to_rgb(img: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hsv`: [B, 3, H, W] HSV (hue in radians) -> RGB in [0, 1]."""
    hue, sat, val = img.unbind(dim=1)
    h6 = torch.remainder(hue / (2 * math.pi), 1.0) * 6.0
    sector = torch.floor(h6).clamp(max=5)
    f = h6 - sector
    p = val * (1 - sat)
    q = val * (1 - f * sat)
    t = val * (1 - (1 - f) * sat)
    sector = sector.long()
    # (r, g, b) per sector 0..5: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q)
    table = torch.stack((
        torch.stack((val, q, p, p, t, val), dim=1),
        torch.stack((t, val, val, q, p, p), dim=1),
        torch.stack((p, p, t, val, val, q), dim=1),
    ), dim=1)  # [B, 3, 6, H, W]
    index = sector[:, None, None].expand(-1, 3, 1, -1, -1)
    return table.gather(2, index).squeeze(2)


def _adjust(img: Tensor, op: int, factor: Tensor) -> Tensor:
    """One kornia-0.5 colour op on [N, 3, H, W] in [0, 1] with per-sample factors [N]."""
    f = factor.view(-1, 1, 1, 1)
    if op == 0:  # brightness: additive shift of (factor - 1)
        return (img + (f - 1.0)).clamp(0.0, 1.0)
    if op == 1:  # contrast: multiplicative, no mean blending (kornia 0.5)
        return (img * f).clamp(0.0, 1.0)
    hsv = rgb_to_hsv(img)
    hue, sat, val = hsv.unbind(dim=1)
    if op == 2:  # saturation: scale S in HSV
        sat = (sat * f[:, 0]).clamp(0.0, 1.0)
    else:  # hue: rotate H by factor * 2 * pi
        hue = torch.remainder(hue + f[:, 0] * (2 * math.pi), 2 * math.pi)
    return hsv_to_rgb(torch.stack((hue, sat, val), dim=1))


def gaussian_kernel1d(size: int, sigma: Tensor) -> Tensor:
    """[N, size] normalised 1-D Gaussian kernels (kornia's definition) for sigmas [N]."""
    x = torch.arange(size, dtype=sigma.dtype, device=sigma.device) - size // 2
    if size % 2 == 0:
        x = x + 0.5
    kernel = torch.exp(-x[None] ** 2 / (2.0 * sigma[:, None] ** 2))
    return kernel / kernel.sum(dim=1, keepdim=True)


def dacs_kernel_size(side: int, ratio: float = 0.1) -> int:
    """DACS's blur kernel size for an image side: about ``ratio * side``, always odd."""
    k = math.ceil(ratio * side)
    return max(1, k if k % 2 == 1 else k - 1)


def gaussian_blur(img: Tensor, sigma: Tensor, kernel_size: Sequence[int]) -> Tensor:
    """Separable Gaussian blur with reflect padding, one sigma per sample.

    Args:
        img (Tensor): [N, C, H, W].
        sigma (Tensor): [N] standard deviations in pixels.
        kernel_size (tuple[int, int]): odd (ky, kx).

    Returns:
        Tensor: [N, C, H, W] blurred images.
    """
    n, c, h, w = img.shape
    x = img.reshape(1, n * c, h, w)
    sigma = sigma.to(device=img.device, dtype=img.dtype)
    for dim, size, side in ((2, kernel_size[0], h), (3, kernel_size[1], w)):
        # Reflect padding needs pad < side: shrink the kernel on tiny images.
        half = min(size // 2, side - 1)
        if half <= 0:
            continue
        kernel = gaussian_kernel1d(2 * half + 1, sigma).repeat_interleave(c, dim=0)
        if dim == 2:
            x = F.conv2d(F.pad(x, (0, 0, half, half), mode='reflect'),
                         kernel.view(n * c, 1, -1, 1), groups=n * c)
        else:
            x = F.conv2d(F.pad(x, (half, half, 0, 0), mode='reflect'),
                         kernel.view(n * c, 1, 1, -1), groups=n * c)
    return x.view(n, c, h, w)


@MODELS.register_module()
class StrongAugment(nn.Module):
    """DACS / DAFormer strong augmentation of normalised images (arXiv:2007.08702), in plain torch.

    The images are denormalised to [0, 1] RGB, colour-jittered, renormalised and Gaussian-blurred
    (blur is linear and commutes with the per-channel normalisation, as in DAFormer which blurs the
    renormalised image).

    * Colour jitter follows kornia 0.5.8's ``ColorJitter`` (the version DAFormer pins): brightness is
      an additive shift b - 1 with b ~ U(max(0, 1 - s_b), 1 + s_b); contrast multiplies by
      c ~ U(max(0, 1 - s_c), 1 + s_c) without mean blending; saturation scales S of HSV by
      ~ U(max(0, 1 - s_s), 1 + s_s); hue rotates H by h * 2 * pi with h ~ U(-s_h, s_h); each op clamps to
      [0, 1]; the four ops run in a random order. Factors and order are drawn per sample.
    * Blur: sigma ~ U(*blur_sigma) per sample, kernel ``dacs_kernel_size`` of each side (about 10 %,
      odd), reflect padding.

    ``color_jitter_p`` and ``blur_p`` are the probabilities of *applying* the op. DAFormer's
    ``color_jitter_probability=0.2`` is a probability of skipping (it jitters when u > 0.2), so the
    default 0.8 here reproduces it. With ``share_decision=True`` (DAFormer) one coin per op decides for
    the whole batch; with False every sample has its own coin.

    Randomness: all draws use ``generator`` (a CPU ``torch.Generator``) if given, else torch's global
    CPU RNG, so results are reproducible under ``torch.manual_seed`` and identical on any device.

    Args:
        color_jitter_p (float): probability of colour jitter. Default 0.8.
        color_jitter_strength (float | dict): s for all four ops, or a dict with keys ``brightness``,
            ``contrast``, ``saturation``, ``hue``. Default 0.2.
        blur (bool): enable the Gaussian blur. Default True.
        blur_p (float): probability of the blur. Default 0.5.
        blur_sigma (tuple[float, float]): sigma range in pixels. Default (0.15, 1.15).
        blur_kernel_ratio (float): kernel size as a fraction of each image side. Default 0.1.
        share_decision (bool): one apply/skip decision per batch (DAFormer). Default True.
        mean (sequence[float]): normalisation mean, 0-255 scale, RGB. Default ImageNet.
        std (sequence[float]): normalisation std, 0-255 scale, RGB. Default ImageNet.
    """

    def __init__(self,
                 color_jitter_p: float = 0.8,
                 color_jitter_strength: Union[float, dict] = 0.2,
                 blur: bool = True,
                 blur_p: float = 0.5,
                 blur_sigma: Sequence[float] = (0.15, 1.15),
                 blur_kernel_ratio: float = 0.1,
                 share_decision: bool = True,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        if isinstance(color_jitter_strength, dict):
            unknown = set(color_jitter_strength) - {'brightness', 'contrast', 'saturation', 'hue'}
            if unknown:
                raise ValueError(f'unknown colour jitter keys {sorted(unknown)}')
            strength = [float(color_jitter_strength.get(k, 0.0))
                        for k in ('brightness', 'contrast', 'saturation', 'hue')]
        else:
            strength = [float(color_jitter_strength)] * 4
        self.color_jitter_p = float(color_jitter_p)
        self.strength = strength
        self.blur = blur
        self.blur_p = float(blur_p)
        self.blur_sigma = (float(blur_sigma[0]), float(blur_sigma[1]))
        self.blur_kernel_ratio = float(blur_kernel_ratio)
        self.share_decision = share_decision
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)

    def _coins(self, n: int, p: float, generator) -> Tensor:
        if self.share_decision:
            return (torch.rand(1, generator=generator) < p).expand(n)
        return torch.rand(n, generator=generator) < p

    def _jitter_factors(self, n: int, generator) -> Tensor:
        """[n, 4] factors (brightness, contrast, saturation, hue) in kornia's ranges."""
        u = torch.rand(n, 4, generator=generator)
        low = torch.tensor([max(0.0, 1.0 - s) for s in self.strength[:3]] + [-self.strength[3]])
        high = torch.tensor([min(2.0, 1.0 + self.strength[0])] + [1.0 + s for s in self.strength[1:3]]
                            + [self.strength[3]])
        return low + u * (high - low)

    def forward(self,
                img: Tensor,
                mean: Optional[Tensor] = None,
                std: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Augment a batch of normalised images.

        Args:
            img (Tensor): [B, 3, H, W] normalised RGB images, (img * std + mean) in [0, 255].
            mean (Tensor | sequence, optional): [3] or [B, 3] (or [B, 3, 1, 1]) mean overriding the
                constructor's, 0-255 scale.
            std (Tensor | sequence, optional): likewise for the std.
            generator (torch.Generator, optional): CPU generator for all random draws.

        Returns:
            Tensor: [B, 3, H, W] augmented images, same dtype and device; the input is not modified.
        """
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f'img must be [B, 3, H, W], got {tuple(img.shape)}')
        n, _, h, w = img.shape
        # Draw every random number up front, in a fixed order, on the CPU.
        jitter = self._coins(n, self.color_jitter_p, generator)
        factors = self._jitter_factors(n, generator)
        order = torch.argsort(torch.rand(n, 4, generator=generator), dim=1)
        blur = self._coins(n, self.blur_p, generator)
        lo, hi = self.blur_sigma
        sigma = lo + torch.rand(n, generator=generator) * (hi - lo)

        out = img
        if bool(jitter.any()):
            idx = jitter.nonzero().squeeze(1).to(img.device)
            mean_t = _as_stat(mean, self.mean, img).expand(n, -1, -1, -1)[idx]
            std_t = _as_stat(std, self.std, img).expand(n, -1, -1, -1)[idx]
            x = ((img[idx].float() * std_t + mean_t) / 255.0).clamp(0.0, 1.0)
            factors = factors.to(img.device)[idx]
            order = order.to(img.device)[idx]
            for step in range(4):
                for op in range(4):
                    sel = (order[:, step] == op).nonzero().squeeze(1)
                    if sel.numel() > 0:
                        x[sel] = _adjust(x[sel], op, factors[sel, op])
            out = img.clone()
            out[idx] = ((x * 255.0 - mean_t) / std_t).to(img.dtype)
        ky = dacs_kernel_size(h, self.blur_kernel_ratio)
        kx = dacs_kernel_size(w, self.blur_kernel_ratio)
        if self.blur and bool(blur.any()) and (ky > 1 or kx > 1):
            idx = blur.nonzero().squeeze(1).to(img.device)
            blurred = gaussian_blur(out[idx].float(), sigma.to(img.device)[idx], (ky, kx))
            out = out.clone() if out is img else out
            out[idx] = blurred.to(img.dtype)
        return out


def _as_stat(value, default: Tensor, img: Tensor) -> Tensor:
    """Mean or std as [1 or B, 3, 1, 1] float32 on the image's device."""
    if value is None:
        return default.to(img.device)
    value = torch.as_tensor(value, dtype=torch.float32, device=img.device)
    return value.reshape(-1, 3, 1, 1)
