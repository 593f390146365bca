"""Random patch masking of images (MIC's masked image consistency)."""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class PatchMasking(nn.Module):
    """Zero random square patches of each image (in normalised space, as MIC).

    MIC (Hoyer et al., CVPR 2023, arXiv:2212.01322, Sec. 3.2, Eq. 4): the image is divided into
    ``patch_size`` x ``patch_size`` patches and each is dropped with probability ``mask_ratio``
    (independently per image and patch; a partial patch at the border follows its patch).

    Args:
        patch_size (int): Side of a patch in pixels. MIC: 64.
        mask_ratio (float): Probability that a patch is dropped, in [0, 1). MIC: 0.7.
    """

    def __init__(self, patch_size: int = 64, mask_ratio: float = 0.7):
        super().__init__()
        if patch_size < 1:
            raise ValueError(f'patch_size must be >= 1, got {patch_size}')
        if not 0 <= mask_ratio < 1:
            raise ValueError(f'mask_ratio must be in [0, 1), got {mask_ratio}')
        self.patch_size = patch_size
        self.mask_ratio = mask_ratio

    def mask(self, shape, device=None, generator=None) -> Tensor:
        """[B, 1, H, W] float mask, 1 on kept and 0 on dropped pixels, for images of ``shape``."""
        b, _, h, w = shape
        ph, pw = -(-h // self.patch_size), -(-w // self.patch_size)
        keep = (torch.rand(b, 1, ph, pw, device=device, generator=generator) >=
                self.mask_ratio).float()
        return F.interpolate(keep, scale_factor=self.patch_size, mode='nearest')[:, :, :h, :w]

    def forward(self, img: Tensor) -> Tensor:
        """[B, C, H, W] -> the same with dropped patches set to 0."""
        return img * self.mask(img.shape, device=img.device).to(img.dtype)
