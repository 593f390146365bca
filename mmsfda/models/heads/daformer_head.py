"""DAFormer's decoder: per-level embeddings fused by a depthwise-separable ASPP."""
from typing import List, Sequence

import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn


class SeparableASPP(nn.Module):
    """Parallel branches over one map, concatenated, then a 3x3 bottleneck (no pooling branch).

    The branch of dilation 1 is a 1x1 convolution; the others are depthwise-separable 3x3
    convolutions with that dilation. Every convolution has norm + activation.

    Shapes: [B, in_channels, h, w] -> [B, channels, h, w].
    """

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int], norm_cfg,
                 act_cfg):
        super().__init__()
        branches = []
        for d in dilations:
            if d == 1:
                branches.append(ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg,
                                           act_cfg=act_cfg))
            else:
                branches.append(DepthwiseSeparableConvModule(
                    in_channels, channels, 3, dilation=d, padding=d, norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
        self.branches = nn.ModuleList(branches)
        self.bottleneck = ConvModule(len(dilations) * channels, channels, 3, padding=1,
                                     norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.bottleneck(torch.cat([b(x) for b in self.branches], dim=1))


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """The DAFormer decoder (Hoyer et al., CVPR 2022, arXiv:2111.14887, Sec. 3.2, Fig. 3).

    Each encoder level is embedded to ``embed_dims`` channels by a linear layer over its tokens (no
    norm or activation), upsampled to the first level's resolution and concatenated; the
    context-aware fusion is a depthwise-separable ASPP with dilations 1/6/12/18 and no global
    pooling branch (BN + ReLU), then dropout and the 1x1 classifier.

    Args:
        in_channels (list[int]): Channels of the used levels (MiT-B5: 64, 128, 320, 512).
        in_index (list[int]): Indices of those levels in the backbone's outputs.
        channels (int): Width of the fusion (and of the classifier's input). DAFormer: 256.
        embed_dims (int): Width of each level's embedding. DAFormer: 256.
        dilations (Sequence[int]): Of the fusion's branches. Defaults to (1, 6, 12, 18).
        **kwargs: :class:`BaseDecodeHead` arguments (num_classes, dropout_ratio=0.1, norm_cfg,
            align_corners, loss_decode, ...). ``input_transform`` is 'multiple_select'.

    Shapes: a list of [B, C_l, H_l, W_l] -> [B, num_classes, H_0, W_0].
    """

    def __init__(self, embed_dims: int = 256, dilations: Sequence[int] = (1, 6, 12, 18),
                 **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        self.embeds = nn.ModuleList(nn.Linear(c, embed_dims) for c in self.in_channels)
        self.fusion = SeparableASPP(len(self.in_channels) * embed_dims, self.channels, dilations,
                                    norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """The fused decoder features [B, channels, H_0, W_0] before dropout and classifier."""
        x = self._transform_inputs(inputs)
        size = x[0].shape[2:]
        embedded = []
        for feat, embed in zip(x, self.embeds):
            b, _, h, w = feat.shape
            tokens = embed(feat.flatten(2).transpose(1, 2))  # [B, h*w, embed_dims]
            e = tokens.transpose(1, 2).reshape(b, -1, h, w)
            embedded.append(resize(e, size=size, mode='bilinear', align_corners=self.align_corners))
        return self.fusion(torch.cat(embedded, dim=1))

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self._forward_feature(inputs))
