"""DiGA's photometric augmentation (kornia 0.5 ColorJitter, grayscale, 3x3 blur, sharpness), batched.

DiGA (Shen et al., CVPR 2023, arXiv:2304.02222) builds the photometric view of its cross-domain
mixture with a kornia 0.5.8 pipeline, per sample (kornia's ``same_on_batch=False``):

    ColorJitter(b=0.4, c=0.4, s=0.2, h=0.1, p=0.5) -> RandomGrayscale(p=0.3)
    -> RandomGaussianBlur(3x3, sigma=2, p=0.8) -> RandomSharpness(0.5, p=0.3)      (GTA5)

and jitter p=0.7, grayscale p=0.1 for SYNTHIA. The colour jitter is :class:`StrongAugment`'s
(kornia 0.5 semantics, reused here), the blur is its separable Gaussian.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..mixers.strong_augment import IMAGENET_MEAN, IMAGENET_STD, StrongAugment, gaussian_blur

# ITU-R 601 luma, kornia's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def sharpen(img: Tensor, factor: Tensor) -> Tensor:
    """kornia 0.5 ``sharpness``: blend ``img`` towards its 3x3 smoothed version.

    The smoothing kernel is ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``; the border pixels keep
    their values. ``out = img + factor * (smoothed - img)``, clamped to [0, 1].

    Args:
        img (Tensor): [N, 3, H, W] in [0, 1].
        factor (Tensor): [N] blend factors.
    """
    n, c, h, w = img.shape
    if h < 3 or w < 3:
        return img
    kernel = img.new_ones(3, 3)
    kernel[1, 1] = 5.0
    kernel = (kernel / 13.0).expand(c, 1, 3, 3)
    smoothed = img.clone()
    smoothed[:, :, 1:-1, 1:-1] = F.conv2d(img, kernel, groups=c).clamp(0.0, 1.0)
    return (img + factor.view(-1, 1, 1, 1) * (smoothed - img)).clamp(0.0, 1.0)


@MODELS.register_module()
class PhotometricAugment(nn.Module):
    """DiGA's photometric augmentation of normalised images (module docstring).

    Args:
        jitter_p (float): Probability of the colour jitter. 0.5 (GTA5), 0.7 (SYNTHIA).
        jitter (dict): kornia 0.5 ``ColorJitter`` strengths (brightness, contrast, saturation,
            hue). Defaults to DiGA's (0.4, 0.4, 0.2, 0.1).
        grayscale_p (float): Probability of turning the image grey. 0.3 (GTA5), 0.1 (SYNTHIA).
        blur_p (float): Probability of the Gaussian blur. Defaults to 0.8.
        blur_kernel (int): Odd kernel side. Defaults to 3.
        blur_sigma (float): Defaults to 2.0.
        sharpness (float): Blend factors are drawn from U(0, sharpness). Defaults to 0.5.
        sharpness_p (float): Defaults to 0.3.
        mean, std (sequence[float]): Normalisation (0-255 RGB) when ``forward`` gets none.
    """

    def __init__(self, jitter_p: float = 0.5,
                 jitter: Optional[dict] = None,
                 grayscale_p: float = 0.3,
                 blur_p: float = 0.8,
                 blur_kernel: int = 3,
                 blur_sigma: float = 2.0,
                 sharpness: float = 0.5,
                 sharpness_p: float = 0.3,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        for name, p in (('jitter_p', jitter_p), ('grayscale_p', grayscale_p), ('blur_p', blur_p),
                        ('sharpness_p', sharpness_p)):
            if not 0 <= p <= 1:
                raise ValueError(f'PhotometricAugment: {name} must be a probability, got {p}')
        if blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ValueError(f'PhotometricAugment: blur_kernel must be odd, got {blur_kernel}')
        jitter = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1) if jitter is None \
            else dict(jitter)
        self.jitter = StrongAugment(color_jitter_p=jitter_p, color_jitter_strength=jitter,
                                    blur=False, share_decision=False, mean=mean, std=std)
        self.grayscale_p = float(grayscale_p)
        self.blur_p = float(blur_p)
        self.blur_kernel = int(blur_kernel)
        self.blur_sigma = float(blur_sigma)
        self.sharpness = float(sharpness)
        self.sharpness_p = float(sharpness_p)

    def forward(self, img: Tensor, mean: Tensor, std: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Augment ``img`` [B, 3, H, W] normalised as ``(x - mean) / std`` (``mean``, ``std``: [3],
        0-255 scale); returns the augmented images, normalised the same way."""
        n = img.shape[0]
        out = self.jitter(img, mean=mean, std=std, generator=generator)
        grey = torch.rand(n, generator=generator) < self.grayscale_p
        blur = torch.rand(n, generator=generator) < self.blur_p
        sharp = torch.rand(n, generator=generator) < self.sharpness_p
        factor = torch.rand(n, generator=generator) * self.sharpness
        if not bool((grey | blur | sharp).any()):
            return out
        mean = torch.as_tensor(mean, dtype=torch.float32, device=img.device).view(1, 3, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32, device=img.device).view(1, 3, 1, 1)
        x = ((out.float() * std + mean) / 255.0).clamp(0.0, 1.0)
        dev = img.device
        grey, blur, sharp = grey.to(dev), blur.to(dev), sharp.to(dev)
        luma = (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = torch.where(grey.view(-1, 1, 1, 1), luma.expand_as(x), x)
        blurred = gaussian_blur(x, torch.full((n, ), self.blur_sigma, device=dev),
                                (self.blur_kernel, self.blur_kernel))
        x = torch.where(blur.view(-1, 1, 1, 1), blurred, x)
        x = torch.where(sharp.view(-1, 1, 1, 1), sharpen(x, factor.to(x)), x)
        return ((x * 255.0 - mean) / std).to(img.dtype)
