"""The fully convolutional domain discriminator of AdaptSegNet and AdvEnt."""
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class FCDiscriminator(nn.Module):
    """Five 4x4 stride-2 convolutions, LeakyReLU(0.2) between them: a map of domain logits.

    AdaptSegNet (Tsai et al., CVPR 2018, arXiv:1802.10349, Sec. 3.1) and AdvEnt (Vu et al., CVPR
    2019, arXiv:1811.12833, Sec. 3.2) use channels 64-128-256-512-1 on the segmentation output
    (softmax probabilities, or AdvEnt's weighted self-information map).

    Args:
        in_channels (int): Channels of the input map (the number of classes).
        channels (int): Width of the first convolution; each next one doubles it. Defaults to 64.
        negative_slope (float): Of the LeakyReLUs. Defaults to 0.2.

    Shapes: [B, in_channels, H, W] -> [B, 1, H / 32, W / 32] (logits; 1 = target, 0 = source by
    the segmentor's convention).
    """

    def __init__(self, in_channels: int, channels: int = 64, negative_slope: float = 0.2):
        super().__init__()
        widths = [in_channels, channels, 2 * channels, 4 * channels, 8 * channels]
        layers = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1),
                       nn.LeakyReLU(negative_slope, inplace=True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=2, padding=1))
        self.layers = nn.Sequential(*layers)
        self.in_channels = in_channels

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(f'FCDiscriminator expects {self.in_channels} input channels, got '
                             f'{x.shape[1]}')
        return self.layers(x)
