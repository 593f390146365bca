"""HRDA's multi-resolution head: one decoder for both scales and a class-wise scale attention."""
import copy
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix
from torch import Tensor

Box = Tuple[int, int, int, int]  # (y1, y2, x1, x2)


class HRDALogits(NamedTuple):
    """The three predictions of one HRDA forward (all raw, at the decoder's output stride)."""
    fused: Tensor  # [B, C, h_f, w_f] on the detail scale's grid of the whole input
    context: Tensor  # [B, C, h_c, w_c] of the downscaled context view
    detail: Tensor  # [B, C, h_d, w_d] of the detail crop (or of the whole input at inference)


def fuse_scales(context: Tensor, detail: Tensor, attention: Tensor, ratio: int,
                box: Optional[Box] = None, align_corners: bool = False) -> Tensor:
    """HRDA's attention-weighted fusion of two scales (Hoyer et al., arXiv:2204.13132, Sec. 3).

    ``fused = up(a * m) * detail_inserted + up((1 - a * m) * context)``, with ``a`` the scale
    attention, ``m`` 1 inside the detail region (on the context grid) and 0 outside, ``up``
    bilinear upsampling by ``ratio`` (detail scale / context scale) and ``detail_inserted`` the
    detail logits placed at ``box`` in zeros. Outside the detail region the context prediction is
    used alone; without a box (inference: the detail logits cover the whole input) ``m = 1``.

    Args:
        context (Tensor): [B, C, h, w] context logits.
        detail (Tensor): [B, C, y2 - y1, x2 - x1] detail logits of ``box``, or [B, C, h * ratio,
            w * ratio] covering the whole input when ``box`` is None.
        attention (Tensor): [B, C or 1, h, w] scale attention in [0, 1] (after the sigmoid).
        ratio (int): Detail / context resolution ratio (HRDA: 2).
        box (tuple, optional): ``(y1, y2, x1, x2)`` of the detail region on the fused grid
            (h * ratio, w * ratio); each coordinate divisible by ``ratio``.
        align_corners (bool): Of the upsampling.

    Returns:
        Tensor: [B, C, h * ratio, w * ratio] fused logits.
    """
    if box is not None:
        if any(int(c) % ratio for c in box):
            raise ValueError(f'detail box {tuple(box)} on the fused grid must be divisible by the '
                             f'scale ratio {ratio} (crop_coord_divisible of HRDAEncoderDecoder)')
        y1, y2, x1, x2 = (int(c) // ratio for c in box)
        mask = attention.new_zeros((1, 1, *attention.shape[2:]))
        mask[:, :, y1:y2, x1:x2] = 1
        attention = attention * mask
    size = (context.shape[2] * ratio, context.shape[3] * ratio)
    up_context = resize((1 - attention) * context, size=size, mode='bilinear',
                        align_corners=align_corners)
    up_attention = resize(attention, size=size, mode='bilinear', align_corners=align_corners)
    if box is None:
        inserted = detail
    else:
        y1, y2, x1, x2 = (int(c) for c in box)
        inserted = detail.new_zeros((detail.shape[0], detail.shape[1], *size))
        inserted[:, :, y1:y2, x1:x2] = detail
    return up_attention * inserted + up_context


@MODELS.register_module()
class HRDAHead(BaseDecodeHead):
    """HRDA's head (Hoyer et al., ECCV 2022, arXiv:2204.13132, Sec. 3).

    One single-scale decoder (``head``, e.g. :class:`DAFormerHead`) decodes both the context and
    the detail features; a second decoder of the same kind (``scale_attention``) predicts a
    class-wise attention ``sigmoid(.)`` from the context features, which weighs detail against
    context inside the detail region (:func:`fuse_scales`). The geometry (which crop, which scale)
    belongs to :class:`~mmsfda.models.segmentors.HRDAEncoderDecoder`; this head decodes, fuses and
    computes the losses.

    Losses (as HRDA's public code), for ``loss_by_scales``: the fused prediction's CE times
    ``1 - detail_loss_weight - context_loss_weight``, the detail prediction's CE on the labels
    cropped to the detail region times ``detail_loss_weight`` (lambda_d = 0.1), and the context
    prediction's CE times ``context_loss_weight`` (0 in HRDA's configs: the context decoder is
    trained through the fused prediction only).

    The attention decoder: HRDA's code builds it from the head's config with 256-channel
    embeddings and, where the head fuses with an ASPP, a 1x1 convolution (BN, ReLU) as fusion.
    ``attention_head=None`` does the same for a head with ``embeds`` / ``fusion`` (DAFormerHead):
    a copy of ``head`` with ``attention_embed_dims`` channels and embeddings, C outputs (class-wise)
    or 1, whose fusion is replaced by that 1x1 convolution.

    Loading a plain (single-scale) segmentor checkpoint fills ``head`` from the ``decode_head.*``
    keys (so a source model trained with the single-scale network can be adapted with HRDA); the
    scale attention then keeps its initialisation.

    Args:
        head (dict): Config of the single-scale decode head (its ``num_classes``,
            ``align_corners``, ``loss_decode`` ... are this head's too).
        attention_head (dict, optional): Config of the attention decoder; None: derived from
            ``head`` as above.
        attention_classwise (bool): One attention map per class (HRDA) or one for all.
        attention_embed_dims (int): Channels and embeddings of the derived attention decoder.
            HRDA: 256.
        detail_loss_weight (float): lambda_d. HRDA: 0.1.
        context_loss_weight (float): Weight of the context prediction's own loss. HRDA: 0.
    """

    def __init__(self,
                 head: dict,
                 attention_head: Optional[dict] = None,
                 attention_classwise: bool = True,
                 attention_embed_dims: int = 256,
                 detail_loss_weight: float = 0.1,
                 context_loss_weight: float = 0.0,
                 init_cfg=None):
        if not 0 <= detail_loss_weight + context_loss_weight < 1 or min(
                detail_loss_weight, context_loss_weight) < 0:
            raise ValueError('HRDAHead: detail_loss_weight and context_loss_weight must be >= 0 '
                             f'and sum to less than 1, got {detail_loss_weight} and '
                             f'{context_loss_weight}')
        head = dict(head)
        base_args = dict(in_channels=head['in_channels'], channels=head['channels'],
                         num_classes=head['num_classes'], in_index=head.get('in_index', -1),
                         align_corners=head.get('align_corners', False))
        if 'loss_decode' in head:
            base_args['loss_decode'] = head['loss_decode']
        if isinstance(base_args['in_channels'], (list, tuple)):
            base_args['input_transform'] = 'multiple_select'
        super().__init__(init_cfg=init_cfg, **base_args)
        del self.conv_seg  # the decoders classify; this head only fuses
        del self.dropout
        self.head = MODELS.build(head)
        if attention_head is None:
            self.scale_attention = self._derived_attention(head, attention_classwise,
                                                           attention_embed_dims)
        else:
            self.scale_attention = MODELS.build(dict(attention_head))
        self.detail_loss_weight = float(detail_loss_weight)
        self.context_loss_weight = float(context_loss_weight)

    def _derived_attention(self, head: dict, classwise: bool, embed_dims: int):
        cfg = copy.deepcopy(head)
        cfg.update(channels=embed_dims, embed_dims=embed_dims,
                   num_classes=self.num_classes if classwise else 1)
        if cfg['num_classes'] == 1:
            # mmseg refuses one output channel for a softmax loss; the loss is never used here.
            cfg['loss_decode'] = dict(type='CrossEntropyLoss', use_sigmoid=True)
        att = MODELS.build(cfg)
        if not (hasattr(att, 'embeds') and hasattr(att, 'fusion')):
            raise TypeError(f'HRDAHead: cannot derive the scale attention from {head["type"]} '
                            '(it has no embeds/fusion); give attention_head explicitly')
        att.fusion = ConvModule(len(att.embeds) * embed_dims, embed_dims, 1,
                                norm_cfg=att.norm_cfg, act_cfg=att.act_cfg)
        return att

    def attention(self, context_feats: List[Tensor]) -> Tensor:
        """[B, C or 1, h_c, w_c] scale attention in [0, 1] from the context features."""
        return torch.sigmoid(self.scale_attention(context_feats))

    def forward_scales(self, context_feats: List[Tensor], detail: Tensor, ratio: int,
                       box: Optional[Box] = None) -> HRDALogits:
        """Decode the context, fuse it with ``detail``.

        Args:
            context_feats (list[Tensor]): Backbone features of the context view.
            detail (Tensor): Detail logits (``self.head`` of the detail features, or of sliding
                windows merged): [B, C, y2 - y1, x2 - x1] of ``box``, or the whole input.
            ratio (int): Detail / context resolution ratio.
            box (tuple, optional): Detail region on the fused grid, see :func:`fuse_scales`.
        """
        context = self.head(context_feats)
        fused = fuse_scales(context, detail, self.attention(context_feats), ratio, box,
                            self.align_corners)
        return HRDALogits(fused, context, detail)

    def forward(self, inputs: Sequence[List[Tensor]]) -> Tensor:
        """Fused logits of ``[context_feats, detail_feats]`` whose detail covers the whole input
        at twice the context resolution (mmseg's decode-head call; training goes through
        :meth:`forward_scales`)."""
        context_feats, detail_feats = inputs
        detail = self.head(detail_feats)
        context = self.head(context_feats)
        ratio = detail.shape[2] // context.shape[2]
        return fuse_scales(context, detail, self.attention(context_feats), ratio, None,
                           self.align_corners)

    def loss_by_scales(self, logits: HRDALogits, samples: List[SegDataSample],
                       box: Box) -> Dict[str, Tensor]:
        """HRDA's supervised losses (see the class docstring).

        Args:
            logits (HRDALogits): Of :meth:`forward_scales`.
            samples (list[SegDataSample]): With ``gt_sem_seg`` [1, H, W] at the input resolution.
            box (tuple): ``(y1, y2, x1, x2)`` of the detail crop in input pixels.

        Returns:
            dict: ``loss_*`` / ``acc_seg`` of the fused prediction, ``detail.*`` and (weight > 0)
            ``context.*`` of the others, each loss already multiplied by its weight.
        """
        fused_weight = 1 - self.detail_loss_weight - self.context_loss_weight
        losses = _scaled(self.loss_by_feat(logits.fused, samples), fused_weight)
        if self.detail_loss_weight > 0:
            y1, y2, x1, x2 = box
            cropped = [SegDataSample(gt_sem_seg=PixelData(
                data=s.gt_sem_seg.data[:, y1:y2, x1:x2])) for s in samples]
            losses.update(add_prefix(_scaled(self.loss_by_feat(logits.detail, cropped),
                                             self.detail_loss_weight), 'detail'))
        if self.context_loss_weight > 0:
            losses.update(add_prefix(_scaled(self.loss_by_feat(logits.context, samples),
                                             self.context_loss_weight), 'context'))
        return losses

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A single-scale checkpoint (decode_head.<x>, no decode_head.head.<x>) fills the decoder.
        own = [k for k in state_dict if k.startswith(prefix)]
        if own and not any(k.startswith(f'{prefix}head.') or k.startswith(
                f'{prefix}scale_attention.') for k in own):
            for k in own:
                state_dict[f'{prefix}head.{k[len(prefix):]}'] = state_dict.pop(k)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _scaled(losses: Dict[str, Tensor], weight: float) -> Dict[str, Tensor]:
    """Multiply the ``loss*`` entries by ``weight`` (accuracies are left as they are)."""
    if weight == 1:
        return losses
    return {k: (v * weight if k.startswith('loss') else v) for k, v in losses.items()}
