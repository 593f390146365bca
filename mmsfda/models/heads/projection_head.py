"""Projection head for pixel-level prototype contrast (SePiCo / ATP's Propagate step)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ProjectionHead(nn.Module):
    """Convolutions that map backbone features to L2-normalised embeddings, one per pixel.

    ATP's public code (arXiv:2106.11653; its ``ProjHead``) uses ``num_convs=2`` with 512 output
    channels for every experiment, on the last ResNet stage (DeepLabV2) or on the resize-concat of
    the four MiT stages (DAFormer). Here: ``num_convs - 1`` 1x1 conv + norm + ReLU blocks, then a
    1x1 conv to ``channels`` and L2 normalisation over the channels.

    Args:
        in_channels (int | Sequence[int]): Channels of the selected input(s) (summed for
            ``'resize_concat'``).
        channels (int): Embedding size. Defaults to 512.
        num_convs (int): Convolutions, >= 1. Defaults to 2.
        in_index (int | Sequence[int]): Which backbone outputs to use. Defaults to -1 (the last).
        input_transform (str, optional): ``'resize_concat'`` (resize every selected map to the
            first's size and concatenate) or None (one map). Defaults to None.
        norm_cfg (dict): Norm of the hidden convolutions. Defaults to BN.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 channels: int = 512,
                 num_convs: int = 2,
                 in_index: Union[int, Sequence[int]] = -1,
                 input_transform: str = None,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if input_transform not in (None, 'resize_concat'):
            raise ValueError(f"input_transform must be None or 'resize_concat', got "
                             f'{input_transform!r}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        self.in_index = in_index
        self.input_transform = input_transform
        total = sum(in_channels) if isinstance(in_channels, (list, tuple)) else in_channels
        layers = [ConvModule(total if i == 0 else channels, channels, 1, norm_cfg=norm_cfg)
                  for i in range(num_convs - 1)]
        layers.append(nn.Conv2d(total if num_convs == 1 else channels, channels, 1))
        self.convs = nn.Sequential(*layers)

    def _select(self, feats: Sequence[Tensor]) -> Tensor:
        if self.input_transform == 'resize_concat':
            picked = [feats[i] for i in self.in_index]
            size = picked[0].shape[2:]
            return torch.cat([resize(x, size=size, mode='bilinear', align_corners=False)
                              for x in picked], dim=1)
        return feats[self.in_index]

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Embeddings [B, channels, h, w] (unit L2 norm per pixel) of the backbone outputs."""
        return F.normalize(self.convs(self._select(feats)), dim=1)
