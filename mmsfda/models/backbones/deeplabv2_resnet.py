"""The caffe-style ResNet of DeepLabV2 (Chen et al., TPAMI 2018, arXiv:1606.00915)."""
import torch.nn as nn
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2ResNet(ResNet):
    """mmseg's :class:`ResNet` laid out as the caffe DeepLabV2 ResNet-101 that the DeepLabV2-era
    adaptation papers initialise from (AdaptSegNet, arXiv:1802.10349, and the code built on it).

    Three differences from mmseg's defaults, so that converted caffe weights
    (``tools/model_converters/deeplabv2_caffe2mmseg.py``) give the original network's features:

    - ``style='caffe'``: a bottleneck strides in its first 1x1 convolution, not in the 3x3 one;
    - ``contract_dilation=False``: the first block of a dilated stage uses the stage's full
      dilation (2 in layer 3, 4 in layer 4);
    - the stem's 3x3 max-pool rounds up (``ceil_mode=True``): a 512x512 crop gives 129x129 features
      at layer 1 (mmseg: 128x128), and the classifier sees the same grid as the original.

    Args:
        **kwargs: :class:`mmseg.models.backbones.ResNet` arguments; ``style`` and
            ``contract_dilation`` default to the values above.

    Shapes:
        input: [B, 3, H, W] images normalised as the weights expect (caffe: BGR, mean subtracted,
            not divided by a std); output: the tuple of stage features of ``out_indices``.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault('style', 'caffe')
        kwargs.setdefault('contract_dilation', False)
        super().__init__(**kwargs)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
