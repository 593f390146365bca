"""ProDA-style classifier: concatenated ASPP branches with GroupNorm, an SE block and a feature layer.

ProDA (Zhang et al., CVPR 2021, arXiv:2101.10979) and DiGA (Shen et al., CVPR 2023,
arXiv:2304.02222, Sec. 4 "implementation details") put this head on DeepLabV2-ResNet-101: unlike
DeepLabV2's summed ASPP it has a feature layer (256-d) before a bias-free 1x1 classifier, and that
feature is what the class prototypes of both methods live in.
"""
import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al., CVPR 2018): ``x * sigmoid(W2 relu(W1 avgpool(x)))``.

    Args:
        channels (int): Input (and output) channels.
        reduction (int): Hidden width is ``channels // reduction``. Defaults to 16.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x)


def _branch(in_channels: int, channels: int, dilation: int, groups: int) -> nn.Sequential:
    kernel = 1 if dilation == 0 else 3
    conv = nn.Conv2d(in_channels, channels, kernel, padding=0 if kernel == 1 else dilation,
                     dilation=max(dilation, 1), bias=False)
    return nn.Sequential(conv, nn.GroupNorm(groups, channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class ProDAHead(BaseDecodeHead):
    """ProDA / DiGA classifier head.

    ``x [B, in_channels, h, w]`` -> five branches (a 1x1 conv and 3x3 convs at ``dilations``),
    each ``channels`` wide with GroupNorm and ReLU -> concatenation (``5 * channels``) -> SE block
    -> 3x3 conv to ``channels`` + GroupNorm + ReLU = the **feature** (``_forward_feature``, the
    256-d space of the prototypes) -> dropout (``dropout_ratio``, 0.1) -> 1x1 classifier without
    bias (``cls_seg``).

    Args:
        dilations (tuple[int]): Dilations of the 3x3 branches; a 1x1 branch is always added
            first. Defaults to (6, 12, 18, 24) (DiGA, for output stride 8 on 512x896 crops).
        num_groups (int): GroupNorm groups. Defaults to 32 (``channels`` must be divisible).
        se_reduction (int): Reduction of the SE block. Defaults to 16.
        **kwargs: :class:`BaseDecodeHead` arguments; ``channels`` defaults to 256 and
            ``dropout_ratio`` to 0.1.

    Shapes:
        input: backbone features (``in_index`` selects one map [B, in_channels, h, w]).
        ``_forward_feature``: [B, channels, h, w]. ``forward``: logits [B, num_classes, h, w].
    """

    def __init__(self, dilations=(6, 12, 18, 24), num_groups: int = 32, se_reduction: int = 16,
                 **kwargs):
        kwargs.setdefault('channels', 256)
        kwargs.setdefault('dropout_ratio', 0.1)
        super().__init__(**kwargs)
        if isinstance(self.in_channels, (list, tuple)):
            raise ValueError('ProDAHead takes one feature map: set in_index to an int')
        if self.channels % num_groups:
            raise ValueError(f'ProDAHead: channels={self.channels} must be divisible by '
                             f'num_groups={num_groups} (GroupNorm)')
        self.branches = nn.ModuleList(
            _branch(self.in_channels, self.channels, d, num_groups) for d in (0, *dilations))
        cat = self.channels * len(self.branches)
        self.se = SqueezeExcitation(cat, se_reduction)
        self.bottleneck = nn.Sequential(
            nn.Conv2d(cat, self.channels, 3, padding=1, bias=False),
            nn.GroupNorm(num_groups, self.channels), nn.ReLU(inplace=True))
        # The prototype classifier has no bias (ProDA / DiGA): logits are feature . weight.
        self.conv_seg = nn.Conv2d(self.channels, self.out_channels, 1, bias=False)

    def _forward_feature(self, inputs):
        """The 256-d feature [B, channels, h, w] before dropout and classifier."""
        x = self._transform_inputs(inputs)
        x = torch.cat([b(x) for b in self.branches], dim=1)
        return self.bottleneck(self.se(x))

    def forward(self, inputs):
        return self.cls_seg(self._forward_feature(inputs))
