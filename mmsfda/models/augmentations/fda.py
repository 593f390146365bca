"""Fourier domain adaptation: the low-frequency amplitude of one image on another, batched on device.

FDA (Yang and Soatto, CVPR 2020, arXiv:2004.05498, Sec. 3, Eq. 1-2) renders a source image in a
target image's "style" by replacing the low-frequency part of its Fourier amplitude with the
target's and keeping its phase. Done on raw [0, 255] images, before mean subtraction (the
reference README warns of artefacts otherwise). The window is the four ``b x b`` corner blocks of
the unshifted 2-D spectrum, ``b = floor(min(H, W) * beta)`` (the reference's torch version; its
numpy version uses the equivalent centred block after ``fftshift`` with side ``2b + 1``).
"""
import math

import numpy as np
import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


def low_freq_mask(h: int, w: int, beta: float, device=None) -> Tensor:
    """[H, W] bool, True on the four ``b x b`` corner blocks of the unshifted spectrum."""
    b = int(math.floor(min(h, w) * beta))
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    if b > 0:
        rows = torch.cat([torch.arange(b), torch.arange(h - b, h)]).to(device)
        cols = torch.cat([torch.arange(b), torch.arange(w - b, w)]).to(device)
        mask[rows[:, None], cols[None, :]] = True
    return mask


def fda_swap(src: Tensor, tgt: Tensor, beta: float) -> Tensor:
    """Source images with the target images' low-frequency amplitude.

    Args:
        src (Tensor): [B, C, H, W] raw images (0-255 scale, float).
        tgt (Tensor): [B, C, H, W] raw images giving the amplitude, paired with ``src`` by index.
        beta (float): Window size as a fraction of ``min(H, W)``, in (0, 0.5).

    Returns:
        Tensor: [B, C, H, W] float32 (or ``src``'s float dtype if wider), not clipped.
    """
    if src.shape != tgt.shape or src.dim() != 4:
        raise ValueError(f'src and tgt must be [B, C, H, W] of the same shape, got '
                         f'{tuple(src.shape)} and {tuple(tgt.shape)}')
    _check_beta(beta)
    dtype = torch.promote_types(src.dtype, torch.float32)
    fs = torch.fft.fft2(src.to(dtype))
    ft = torch.fft.fft2(tgt.to(dtype))
    mask = low_freq_mask(*src.shape[-2:], beta, device=src.device)
    amp = torch.where(mask, ft.abs(), fs.abs())
    return torch.fft.ifft2(torch.polar(amp, fs.angle())).real


def fda_swap_numpy(src: np.ndarray, tgt: np.ndarray, beta: float) -> np.ndarray:
    """The reference's per-image numpy form, one [C, H, W] image: ``fftshift``, replace the centred
    ``2b x 2b`` low-frequency block of the amplitude, ``ifftshift`` back. Equal to
    :func:`fda_swap` up to float error (the corner blocks of the unshifted spectrum are that block);
    kept as the oracle of the tests and the baseline of ``tools/benchmark/fda.py``."""
    fs = np.fft.fftshift(np.fft.fft2(src, axes=(-2, -1)), axes=(-2, -1))
    ft = np.fft.fftshift(np.fft.fft2(tgt, axes=(-2, -1)), axes=(-2, -1))
    amp, pha = np.abs(fs), np.angle(fs)
    h, w = src.shape[-2:]
    b = int(np.floor(min(h, w) * beta))
    ch, cw = h // 2, w // 2
    amp[:, ch - b:ch + b, cw - b:cw + b] = np.abs(ft)[:, ch - b:ch + b, cw - b:cw + b]
    out = np.fft.ifft2(np.fft.ifftshift(amp * np.exp(1j * pha), axes=(-2, -1)), axes=(-2, -1))
    return np.real(out)


def _check_beta(beta: float) -> None:
    if not 0 < beta < 0.5:
        raise ValueError(f'FDA beta must be in (0, 0.5), got {beta}')


@MODELS.register_module()
class FDA(nn.Module):
    """FDA as a tensor-level augmentation of normalised batches (any method, on device).

    Args:
        beta (float): Window size, in (0, 0.5). FDA trains with 0.01 (its README); FDA-MBT uses
            0.01 / 0.05 / 0.09. Defaults to 0.01.
        clip (bool): Clip the translated raw image to [0, 255] before re-normalising. The
            reference does not. Defaults to False.
    """

    def __init__(self, beta: float = 0.01, clip: bool = False):
        super().__init__()
        _check_beta(beta)
        self.beta = beta
        self.clip = clip

    def forward(self, img: Tensor, style: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        """Translate ``img`` to the style of ``style``.

        Args:
            img (Tensor): [B, 3, H, W] images normalised as ``(x - mean) / std``.
            style (Tensor): [B', 3, H, W] normalised images giving the amplitude; image ``i`` of
                ``img`` takes image ``i % B'`` of ``style`` (so a smaller target batch is reused).
            mean, std (Tensor): [3] the data preprocessor's normalisation (0-255 scale).

        Returns:
            Tensor: [B, 3, H, W] translated images, normalised the same way.
        """
        if img.shape[1:] != style.shape[1:]:
            raise ValueError(f'FDA: images {tuple(img.shape)} and style images '
                             f'{tuple(style.shape)} differ in channels or size')
        mean = mean.view(1, -1, 1, 1).to(img)
        std = std.view(1, -1, 1, 1).to(img)
        idx = torch.arange(img.shape[0], device=img.device) % style.shape[0]
        out = fda_swap(img * std + mean, style[idx] * std + mean, self.beta)
        if self.clip:
            out = out.clamp(0, 255)
        return ((out - mean) / std).to(img.dtype)
