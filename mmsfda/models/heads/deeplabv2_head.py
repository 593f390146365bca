"""DeepLabV2 classifier: an ASPP of dilated 3x3 convolutions whose outputs are summed.

mmseg 1.x ships DeepLabV3's ASPP (conv branches concatenated, then a bottleneck) but not DeepLabV2's,
which the DeepLabV2-era DA papers (AdaptSegNet, ADVENT, ProDA, Cal-SFDA, DiGA, ...) all use.
"""
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """DeepLabV2 ASPP classifier (Chen et al., TPAMI 2018, arXiv:1606.00915).

    Each branch is a 3x3 convolution ``in_channels -> num_classes`` with dilation ``d``; the logits
    are the sum of the branches. There is no bottleneck, so ``channels`` is unused and mmseg's
    ``conv_seg`` is removed: the ASPP convolutions *are* the classifier.

    Args:
        dilations (tuple[int]): Dilation of each branch. Default: (6, 12, 18, 24).
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels``, ``num_classes``, losses...).
            ``channels`` defaults to ``in_channels``; ``dropout_ratio`` defaults to 0.

    Shapes:
        input: backbone features, a list/tuple selected by ``in_index``; the chosen map is
            [B, in_channels, h, w].
        output: logits [B, num_classes, h, w] (resized to the label size by the loss / predictor).
    """

    def __init__(self, dilations=(6, 12, 18, 24), **kwargs):
        kwargs.setdefault('channels', kwargs.get('in_channels'))
        kwargs.setdefault('dropout_ratio', 0.)
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, override=dict(name='aspp')))
        super().__init__(**kwargs)
        assert not isinstance(self.in_channels, (list, tuple)), \
            'DeepLabV2Head takes one feature map: set in_index to an int'
        del self.conv_seg
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.out_channels, 3, padding=d, dilation=d, bias=True)
            for d in dilations)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        if self.dropout is not None:
            x = self.dropout(x)
        out = self.aspp[0](x)
        for conv in self.aspp[1:]:
            out = out + conv(x)
        return out
