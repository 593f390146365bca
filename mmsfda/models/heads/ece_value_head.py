"""The value net of Cal-SFDA: a small head that estimates an image's class-level ECE (SPEC 3.5)."""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class ECEValueHead(BaseModule):
    """Estimate the class-level ECE of a segmenter's prediction from its encoder features.

    ``BN -> 1x1 conv (no bias, Xavier init) -> bilinear resize to pool_size x pool_size ->
    flatten -> linear -> sigmoid``: one scalar ``e_hat`` in (0, 1) per image. Cal-SFDA
    (``rl/actor_critic.py``) calls it the critic of an "actor-critic" model, but it is trained as a
    plain regressor of the image's differentiable class-level ECE (SPEC 3.3); there is no RL.

    The head records what it was trained for (``in_channels`` of the backbone features and the
    segmenter's ``num_classes``) in the buffer ``trained_for``. Loading a value net trained for
    another backbone or class count raises a ``ValueError`` naming the checkpoint instead of
    producing meaningless estimates (see :meth:`check_checkpoint`, called by ``mmsfda.compat``).

    Args:
        in_channels (int): Channels of the backbone feature map (2048 for ResNet-101 layer4).
        num_classes (int): Classes of the segmenter whose ECE is estimated.
        channels (int): Output channels of the 1x1 conv. Defaults to 128.
        pool_size (int): Side of the resized map. Defaults to 4 (128 * 16 = 2048 inputs to the FC).
        in_index (int): Which backbone output to use. Defaults to -1 (the last, layer4).
        bn_momentum (float): Momentum of the input BN. Defaults to 0.1.
        require_in_checkpoint (bool): Loading a checkpoint without value-net weights is an error.
            Set it where the estimates are used (Cal-SFDA stage 3), so that a stage-1 checkpoint
            given by mistake cannot silently leave the value net at its random initialisation.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 channels: int = 128,
                 pool_size: int = 4,
                 in_index: int = -1,
                 bn_momentum: float = 0.1,
                 require_in_checkpoint: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.pool_size = int(pool_size)
        self.in_index = in_index
        self.require_in_checkpoint = require_in_checkpoint
        self.bn = nn.BatchNorm2d(in_channels, momentum=bn_momentum)
        self.conv = nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        self.fc = nn.Linear(channels * pool_size * pool_size, 1)
        nn.init.xavier_uniform_(self.conv.weight)
        self.register_buffer('trained_for', torch.tensor([self.in_channels, self.num_classes]))
        self.loaded = False  # set when a state dict with this head's weights is loaded

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Estimated ECE of each image.

        Args:
            feats (Tensor | Sequence[Tensor]): Backbone output(s); ``feats[in_index]`` is
                [B, in_channels, h, w].

        Returns:
            Tensor: [B] estimates in (0, 1).
        """
        if self.require_in_checkpoint and not self.loaded:
            raise RuntimeError(
                'the value net (ECEValueHead, require_in_checkpoint=True) was never loaded from a '
                'checkpoint, so its estimates would come from random weights: set load_from to the '
                'checkpoint of Cal-SFDA stage 2 (value net training)')
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ECEValueHead expects [B, {self.in_channels}, h, w] features, got '
                             f'{tuple(x.shape)}: in_channels must match the backbone output '
                             f'{self.in_index}')
        x = self.conv(self.bn(x))
        x = F.interpolate(x, size=(self.pool_size, self.pool_size), mode='bilinear',
                          align_corners=False)
        return torch.sigmoid(self.fc(x.flatten(1))).squeeze(1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if any(k.startswith(prefix) for k in state_dict):
            self.loaded = True
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_checkpoint(self, state_dict: Dict[str, Tensor], filename: Optional[str]) -> None:

        """Raise if a checkpoint's value net does not fit this one.

        Args:
            state_dict (dict): The checkpoint entries of this head, keys relative to it
                (``bn.weight``, ``trained_for`` ...).
            filename (str, optional): The checkpoint file, for the message.
        """
        where = filename or '<in memory>'
        if not state_dict:
            if self.require_in_checkpoint:
                raise ValueError(
                    f'checkpoint {where} holds no value net (ECEValueHead) weights, but this model '
                    'uses the value net\'s ECE estimates: load the checkpoint of Cal-SFDA stage 2 '
                    '(value net training), not a stage-1 source model')
            return
        found = state_dict.get('trained_for')
        if found is None:
            return
        found = [int(v) for v in found.tolist()]
        if found != self.trained_for.tolist():
            raise ValueError(
                f'checkpoint {where} holds a value net trained on {found[0]}-channel features of a '
                f'{found[1]}-class segmenter; this model has {self.in_channels}-channel features '
                f'and {self.num_classes} classes. A value net only estimates the ECE of the '
                'backbone and label set it was trained with: retrain stage 2 for this model.')
