"""The two networks of Jackson et al.'s style augmentation (arXiv:1809.05375), used by
:class:`~mmsfda.models.augmentations.style_augmentor.StyleAugmentor`.

* :class:`StyleTransformer`: Ghiasi et al.'s arbitrary style-transfer network (BMVC 2017,
  arXiv:1705.06830): conv + InstanceNorm encoder, residual blocks and upsampling convolutions whose
  InstanceNorm scale / shift are linear functions of a style embedding, sigmoid output.
* :class:`StylePredictor`: Inception-v3 up to ``Mixed_6e``, mean-pooled, one linear layer: an
  image's own style embedding.

Module and parameter names are those of the published checkpoints (``state_dict_ghiasi``,
``state_dict_stylepredictor``), so they load by name.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ---------------------------------------------------------------------------- transformer
class ConvINReLU(nn.Module):
    """Reflection-padded conv, InstanceNorm (no affine), ReLU: the un-conditioned encoder layer."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.pad = kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: Tensor, style: Optional[Tensor] = None) -> Tensor:
        x = self.conv(F.pad(x, [self.pad] * 4, mode='reflect'))
        return F.relu(F.instance_norm(x))


def conditional_instance_norm(x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """InstanceNorm of ``x`` [B, C, H, W], then per-sample scale / shift ``gamma``, ``beta``
    [B, C] (Ghiasi et al.'s conditional instance normalisation)."""
    return F.instance_norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class StyledResidualBlock(nn.Module):
    """Two 3x3 convs with style-conditioned InstanceNorm (ReLU between), plus the identity."""

    def __init__(self, channels: int, embedding_dim: int = 100):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        for i in (1, 2):
            setattr(self, f'fc_gamma{i}', nn.Linear(embedding_dim, channels))
            setattr(self, f'fc_beta{i}', nn.Linear(embedding_dim, channels))

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        y = self.conv1(F.pad(x, [1] * 4, mode='reflect'))
        y = F.relu(conditional_instance_norm(y, self.fc_gamma1(style), self.fc_beta1(style)))
        y = self.conv2(F.pad(y, [1] * 4, mode='reflect'))
        return x + conditional_instance_norm(y, self.fc_gamma2(style), self.fc_beta2(style))


class StyledUpConv(nn.Module):
    """Optional nearest 2x upsampling, reflection-padded conv, style-conditioned InstanceNorm and
    ReLU (none on the output layer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: bool,
                 relu: bool = True, embedding_dim: int = 100):
        super().__init__()
        self.upsample, self.relu, self.pad = upsample, relu, kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.fc_gamma = nn.Linear(embedding_dim, out_channels)
        self.fc_beta = nn.Linear(embedding_dim, out_channels)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode='nearest')
        x = self.conv(F.pad(x, [self.pad] * 4, mode='reflect'))
        x = conditional_instance_norm(x, self.fc_gamma(style), self.fc_beta(style))
        return F.relu(x) if self.relu else x


class StyleTransformer(nn.Module):
    """Ghiasi et al.'s style-transfer network (arXiv:1705.06830, Sec. 3), in ``layers``:
    3 encoder layers (9x9, 3x3/2, 3x3/2), ``num_res_blocks`` residual blocks, 2 upsampling 3x3
    layers and a 9x9 output layer; the last ``num_res_blocks + 3`` are style-conditioned.

    Args:
        channels (sequence[int]): Encoder widths. (32, 64, 128) in the published network.
        num_res_blocks (int): 5 in the published network.
        embedding_dim (int): 100.
    """
    stride = 4  # two stride-2 encoder layers

    def __init__(self, channels: Sequence[int] = (32, 64, 128), num_res_blocks: int = 5,
                 embedding_dim: int = 100):
        super().__init__()
        c1, c2, c3 = channels
        d = embedding_dim
        self.layers = nn.ModuleList(
            [ConvINReLU(3, c1, 9), ConvINReLU(c1, c2, 3, 2), ConvINReLU(c2, c3, 3, 2)] +
            [StyledResidualBlock(c3, d) for _ in range(num_res_blocks)] +
            [StyledUpConv(c3, c2, 3, True, embedding_dim=d),
             StyledUpConv(c2, c1, 3, True, embedding_dim=d),
             StyledUpConv(c1, 3, 9, False, relu=False, embedding_dim=d)])

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] RGB in [0, 1] (H, W multiples of 4), ``style`` [B, D] ->
        [B, 3, H, W] in (0, 1)."""
        for layer in self.layers:
            x = layer(x, style)
        return torch.sigmoid(x)


# ---------------------------------------------------------------------------- style predictor
class BasicConv2d(nn.Module):
    """Conv (no bias), BatchNorm (eps 1e-3), ReLU: Inception-v3's unit."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _chain(x: Tensor, *convs: nn.Module) -> Tensor:
    for conv in convs:
        x = conv(x)
    return x


class InceptionA(nn.Module):
    """1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (``Mixed_5*``); widths scaled by ``s``."""

    def __init__(self, in_channels: int, pool_features: int, s):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, s(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(s(48), s(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, s(pool_features), kernel_size=1)
        self.out_channels = 2 * s(64) + s(96) + s(pool_features)

    def forward(self, x: Tensor) -> Tensor:
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch5x5_1, self.branch5x5_2),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            self.branch_pool(pool)], 1)


class InceptionB(nn.Module):
    """Grid reduction 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 (``Mixed_6a``)."""

    def __init__(self, in_channels: int, s):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, s(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, stride=2)
        self.out_channels = s(384) + s(96) + in_channels

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """Factorised 7x7 branches (``Mixed_6b``-``Mixed_6e``), ``channels_7x7`` inner width."""

    def __init__(self, in_channels: int, channels_7x7: int, s):
        super().__init__()
        c7, c192 = s(channels_7x7), s(192)
        row = dict(kernel_size=(1, 7), padding=(0, 3))
        col = dict(kernel_size=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(in_channels, c192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, c192, **col)
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, c192, **row)
        self.branch_pool = BasicConv2d(in_channels, c192, kernel_size=1)
        self.out_channels = 4 * c192

    def forward(self, x: Tensor) -> Tensor:
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, *(getattr(self, f'branch7x7dbl_{i}') for i in range(1, 6))),
            self.branch_pool(pool)], 1)


#: Inception's input map from [0, 1] RGB, as the published predictor was trained: torchvision's
#: ImageNet normalisation followed by its conversion to Google's [-1, 1] normalisation. The
#: reference divides the blue channel by 0.255 (not 0.225) in the first step, so blue is not
#: exactly ``2x - 1``; kept, since the weights were fitted with it. ``x -> x * scale + shift``.
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_FIRST_STD = (0.229, 0.224, 0.255)  # sic: the reference's first step
_INCEPTION_SCALE = tuple(s / f / 0.5 for s, f in zip(_TORCH_STD, _FIRST_STD))
_INCEPTION_SHIFT = tuple(-m / f * s / 0.5 + (m - 0.5) / 0.5
                         for m, s, f in zip(_TORCH_MEAN, _TORCH_STD, _FIRST_STD))


class StylePredictor(nn.Module):
    """Inception-v3 up to ``Mixed_6e``, spatial mean, ``fc`` -> the style embedding (Jackson et al.,
    arXiv:1809.05375, Sec. 3; Ghiasi et al., Sec. 3.2).

    Args:
        width (float): Multiplies every Inception width (1.0: the published predictor, 768
            features; e.g. 1/16 for a CPU-sized toy).
        embedding_dim (int): 100.
        min_size (int): Inputs whose shorter side is below this are bilinearly enlarged to it first
            (the unpadded stride-2 layers need >= 75 px, Inception-v3's minimum); the embedding is
            a global mean, so this only matters for tiny test images.
    """

    def __init__(self, width: float = 1.0, embedding_dim: int = 100, min_size: int = 75):
        super().__init__()

        def s(c: int) -> int:
            return max(1, int(round(c * width)))

        self.min_size = int(min_size)
        self.Conv2d_1a_3x3 = BasicConv2d(3, s(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(s(32), s(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(s(32), s(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(s(64), s(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(s(80), s(192), kernel_size=3)
        self.Mixed_5b = InceptionA(s(192), 32, s)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, 64, s)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, 64, s)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, s)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, 128, s)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, 160, s)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, 160, s)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, 192, s)
        self.fc = nn.Linear(self.Mixed_6e.out_channels, embedding_dim)
        self.register_buffer('input_scale', torch.tensor(_INCEPTION_SCALE).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('input_shift', torch.tensor(_INCEPTION_SHIFT).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] RGB in [0, 1] -> [B, D] style embeddings."""
        short = min(x.shape[-2:])
        if short < self.min_size:
            size = [int(round(d * self.min_size / short)) for d in x.shape[-2:]]
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        x = x * self.input_scale + self.input_shift
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                   self.Mixed_6c, self.Mixed_6d, self.Mixed_6e)
        return self.fc(x.mean(dim=(2, 3)))
