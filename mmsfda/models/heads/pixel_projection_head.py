"""A per-pixel 2-layer MLP (1x1 convolutions) mapping decoder features to unit-norm embeddings."""
from typing import Optional

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class PixelProjectionHead(nn.Module):
    """``conv1x1 -> [norm] -> ReLU -> conv1x1 -> L2 normalisation`` over the channels.

    The embedding space of T2S-DA's contrastive loss (Wang et al., arXiv:2305.13752; the widths
    256 -> 256 -> 128 are a reconstruction). It reads one feature map (e.g. the decoder's fused
    feature), not a list of backbone levels.

    A checkpoint whose head has other widths is refused with the key and both shapes
    (:meth:`_load_from_state_dict`): mmengine loads checkpoints non-strictly and would otherwise
    keep the freshly initialised weights with only a warning.

    Args:
        in_channels (int): Channels of the input map (DAFormer's fused feature: 256).
        hidden_channels (int): Width of the hidden layer. Defaults to 256.
        out_channels (int): Embedding size. Defaults to 128.
        norm_cfg (dict, optional): Norm after the first convolution (e.g. ``dict(type='BN')``);
            None: no norm. Defaults to None.

    Shapes: [B, in_channels, h, w] -> [B, out_channels, h, w], unit L2 norm at every pixel.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 256, out_channels: int = 128,
                 norm_cfg: Optional[dict] = None):
        super().__init__()
        if min(in_channels, hidden_channels, out_channels) < 1:
            raise ValueError('in_channels, hidden_channels and out_channels must be positive, got '
                             f'{in_channels}, {hidden_channels}, {out_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers = [nn.Conv2d(in_channels, hidden_channels, 1, bias=norm_cfg is None)]
        if norm_cfg is not None:
            layers.append(build_norm_layer(norm_cfg, hidden_channels)[1])
        layers += [nn.ReLU(inplace=True), nn.Conv2d(hidden_channels, out_channels, 1)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects [B, {self.in_channels}, h, w] '
                             f'features, got {tuple(x.shape)}')
        return F.normalize(self.mlp(x), dim=1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name, own in self.state_dict().items():
            key = prefix + name
            if key in state_dict and tuple(state_dict[key].shape) != tuple(own.shape):
                raise ValueError(
                    f'checkpoint key {key!r} has shape {tuple(state_dict[key].shape)}, this '
                    f'{type(self).__name__} expects {tuple(own.shape)}: the checkpoint was trained '
                    'with another projection width (in_channels / hidden_channels / out_channels '
                    'of the config must match it)')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
