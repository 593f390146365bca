"""The value net of Cal-SFDA (arXiv:2308.03003): a head estimating an image's class-level ECE."""
import math
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class ECEValueHead(BaseModule):
    """Estimate the class-level ECE of a segmenter's prediction from its features and output.

    Backbone branch (the public code, ``rl/actor_critic.py``): ``BN -> 1x1 conv (no bias, Xavier
    init) -> bilinear resize to pool_size x pool_size -> flatten``. With ``use_decoder=False`` this
    branch alone feeds ``linear -> sigmoid``: the paper code's value net. Cal-SFDA calls it the
    critic of an "actor-critic" model, but it is trained as a plain regressor of the image's
    differentiable class-level ECE; there is no RL.

    Decoder branch (``use_decoder=True``, the default; a reconstruction, [U]: not checked against
    the paper's text; the public code has no such branch). A value net that reads the backbone only
    cannot see a change of the decoder, and Cal-SFDA's stage 3 trains only the decoder after its
    first epoch: with frozen BN the estimate is then the same at every validation and label-free
    selection cannot choose. Here the decoder's output also goes in: per pixel of the decoder's map,
    its softmax probabilities ``p`` (C channels), the confidence ``max_c p`` and the entropy divided
    by ``log C`` (C + 2 channels, all in [0, 1]) ``-> 1x1 conv (bias) -> ReLU -> average pool to
    pool_size x pool_size -> flatten``, concatenated with the backbone branch before the linear
    layer. The ReLU lets the linear layer read how much of a region lies above or below learned
    confidence levels (a soft confidence histogram), which a linear map of the pooled probabilities
    could not. This branch has no BN on purpose: BN statistics re-estimated on the target (see
    ``BNStatsWarmupHook``) would remove exactly the shift of the confidences that the ECE depends
    on.

    The head records what it was trained for (``in_channels`` of the backbone features and the
    segmenter's ``num_classes``) in the buffer ``trained_for``; whether it reads the decoder is
    told by the presence of ``decoder_conv`` weights. Loading a value net trained for another
    backbone, class count or input set raises a ``ValueError``
    naming the checkpoint instead of producing meaningless estimates (see
    :meth:`check_checkpoint`, called by ``mmsfda.compat``).

    Args:
        in_channels (int): Channels of the backbone feature map (2048 for ResNet-101 layer4).
        num_classes (int): Classes of the segmenter whose ECE is estimated.
        channels (int): Output channels of the backbone branch's 1x1 conv. Defaults to 128.
        pool_size (int): Side of the pooled maps. Defaults to 4 (128 * 16 = 2048 inputs to the
            linear layer from the backbone branch).
        in_index (int): Which backbone output to use. Defaults to -1 (the last, layer4).
        bn_momentum (float): Momentum of the input BN. Defaults to 0.1.
        use_decoder (bool): Also read the decoder's output (see above). Defaults to True; False
            is the public code's value net.
        decoder_channels (int, optional): Output channels of the decoder branch's 1x1 conv.
            Defaults to ``channels``.
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
                 use_decoder: bool = True,
                 decoder_channels: Optional[int] = None,
                 require_in_checkpoint: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'ECEValueHead needs num_classes >= 2, got {num_classes}')
        self.in_channels = int(in_channels)
        self.num_classes = int(num_classes)
        self.pool_size = int(pool_size)
        self.in_index = in_index
        self.use_decoder = bool(use_decoder)
        self.require_in_checkpoint = require_in_checkpoint
        self.bn = nn.BatchNorm2d(in_channels, momentum=bn_momentum)
        self.conv = nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        nn.init.xavier_uniform_(self.conv.weight)
        fc_in = channels * pool_size * pool_size
        if self.use_decoder:
            decoder_channels = int(decoder_channels or channels)
            self.decoder_conv = nn.Conv2d(num_classes + 2, decoder_channels, kernel_size=1)
            nn.init.xavier_uniform_(self.decoder_conv.weight)
            fc_in += decoder_channels * pool_size * pool_size
        self.fc = nn.Linear(fc_in, 1)
        self.register_buffer('trained_for', torch.tensor([self.in_channels, self.num_classes]))
        self.loaded = False  # set when a state dict with this head's weights is loaded

    def forward(self, feats: Union[Tensor, Sequence[Tensor]],
                seg_logits: Optional[Tensor] = None) -> Tensor:
        """Estimated ECE of each image.

        Args:
            feats (Tensor | Sequence[Tensor]): Backbone output(s); ``feats[in_index]`` is
                [B, in_channels, h, w].
            seg_logits (Tensor, optional): The decoder's logits [B, num_classes, h', w'] for the
                same images (any resolution; the decoder's own is cheapest). Required with
                ``use_decoder``, ignored without.

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
        parts = [x.flatten(1)]
        if self.use_decoder:
            parts.append(self.decoder_summary(seg_logits, x.shape[0]))
        return torch.sigmoid(self.fc(torch.cat(parts, dim=1))).squeeze(1)

    def decoder_summary(self, seg_logits: Optional[Tensor], batch_size: int) -> Tensor:
        """The decoder branch: [B, decoder_channels * pool_size**2] from logits [B, C, h, w]."""
        if seg_logits is None:
            raise ValueError('ECEValueHead(use_decoder=True) needs the decoder\'s seg_logits; '
                             'set use_decoder=False for the public code\'s backbone-only value net')
        if (seg_logits.dim() != 4 or seg_logits.shape[0] != batch_size
                or seg_logits.shape[1] != self.num_classes):
            raise ValueError(f'ECEValueHead expects seg_logits [{batch_size}, {self.num_classes}, '
                             f'h, w], got {tuple(seg_logits.shape)}')
        probs = seg_logits.float().softmax(1)
        conf = probs.max(1, keepdim=True)[0]
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1, keepdim=True)
        y = torch.cat([probs, conf, entropy / math.log(self.num_classes)], 1)
        y = F.relu(self.decoder_conv(y.to(self.decoder_conv.weight.dtype)))
        return F.adaptive_avg_pool2d(y, self.pool_size).flatten(1)

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
        if found is not None and [int(v) for v in found.tolist()] != self.trained_for.tolist():
            found = [int(v) for v in found.tolist()]
            raise ValueError(
                f'checkpoint {where} holds a value net trained on {found[0]}-channel features of a '
                f'{found[1]}-class segmenter; this model has {self.in_channels}-channel features '
                f'and {self.num_classes} classes. A value net only estimates the ECE of the '
                'backbone and label set it was trained with: retrain stage 2 for this model.')
        found_decoder = 'decoder_conv.weight' in state_dict
        if found_decoder != self.use_decoder:
            def what(d):
                return ('reads the decoder output too (use_decoder=True)' if d else
                        'reads backbone features only (use_decoder=False, the public code)')
            raise ValueError(
                f'checkpoint {where} holds a value net that {what(found_decoder)}, but this '
                f'model\'s value net {what(self.use_decoder)}: set value_head.use_decoder='
                f'{found_decoder} or retrain stage 2 with this setting.')
