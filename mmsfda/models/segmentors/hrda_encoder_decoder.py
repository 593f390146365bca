"""HRDA's encoder-decoder: a downscaled context view and a full-resolution detail crop."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..heads.hrda_head import HRDAHead, HRDALogits
from .adaptation_student import AdaptationStudent
from .student_outputs import LogitView, StudentOutputs

Box = Tuple[int, int, int, int]


def random_crop_box(size: Sequence[int], crop_size: Sequence[int], divisible: int = 1,
                    generator: Optional[torch.Generator] = None) -> Box:
    """A random ``(y1, y2, x1, x2)`` crop of ``crop_size`` inside an image of ``size`` whose
    corner coordinates are multiples of ``divisible`` (HRDA: 8, so that the box falls on the
    decoder's grid at both scales). The crop is clipped to the image when it is larger."""
    (h, w), (ch, cw) = size, crop_size
    ch, cw = min(ch, h), min(cw, w)
    ys = torch.randint(0, (h - ch) // divisible + 1, (), generator=generator).item()
    xs = torch.randint(0, (w - cw) // divisible + 1, (), generator=generator).item()
    y1, x1 = ys * divisible, xs * divisible
    return y1, y1 + ch, x1, x1 + cw


def sliding_boxes(size: Sequence[int], crop_size: Sequence[int],
                  stride: Sequence[int]) -> List[Box]:
    """Windows of ``crop_size`` with ``stride`` covering an image of ``size`` (the last window of
    a row or column is moved inside the image, as mmseg's slide inference does)."""
    (h, w), (ch, cw), (sh, sw) = size, crop_size, stride
    ch, cw = min(ch, h), min(cw, w)
    boxes = []
    for i in range(max(h - ch + sh - 1, 0) // sh + 1):
        for j in range(max(w - cw + sw - 1, 0) // sw + 1):
            y2, x2 = min(i * sh + ch, h), min(j * sw + cw, w)
            boxes.append((y2 - ch, y2, x2 - cw, x2))
    return boxes


@MODELS.register_module()
class HRDAEncoderDecoder(EncoderDecoder, AdaptationStudent):
    """HRDA (Hoyer et al., ECCV 2022, arXiv:2204.13132): multi-resolution training and inference.

    Training (:meth:`forward_train_scales`): the *context* view is the whole input downscaled by
    ``context_scale`` (HRDA: the 1024x1024 crop at 0.5); the *detail* view is a random
    ``detail_crop_size`` crop of the input at full resolution (HRDA: 512x512, inside the context
    crop by construction), its corners multiples of ``crop_coord_divisible``. Both go through the
    same backbone and decoder; :class:`HRDAHead` fuses them with its scale attention. Losses: see
    :meth:`HRDAHead.loss_by_scales`.

    Inference (:meth:`encode_decode`, also the pseudo-labels through :meth:`label_logits`): the
    context view of the whole input, and detail logits of the whole input at full resolution from
    sliding ``detail_crop_size`` windows, overlapping by half (``detail_slide_overlapping``: stride
    half the window) and averaged, fused without a mask. mmseg's ``test_cfg`` slides *this* over
    larger test images (HRDA: 1024x1024 windows, stride 512, on 2048x1024 Cityscapes).

    ``extract_feat`` returns the context view's features (HRDA's ``feature_scale=0.5``: DAFormer's
    feature distance is computed on them), and the adaptation outputs carry the context image as
    ``backbone_input`` so that the ImageNet reference sees it too.

    As an adaptation student (:class:`AdaptationStudent`): the fused logits are the main output
    (target losses times ``1 - detail - context`` weights), the detail crop a :class:`LogitView`
    (weight ``detail_loss_weight``) and, with a context loss weight, the context prediction another.

    Args:
        context_scale (float): Scale of the context view. HRDA: 0.5.
        detail_crop_size (tuple[int, int]): Detail crop / sliding window (h, w) in input pixels.
            HRDA: (512, 512).
        crop_coord_divisible (int): HRDA: 8 (output stride 4 times the scale ratio 2).
        detail_slide_overlapping (bool): Sliding detail windows at half stride (HRDA) or tiled.
        **kwargs: :class:`EncoderDecoder` arguments; ``decode_head`` must be an
            :class:`HRDAHead` config.
    """

    def __init__(self,
                 context_scale: float = 0.5,
                 detail_crop_size: Sequence[int] = (512, 512),
                 crop_coord_divisible: int = 8,
                 detail_slide_overlapping: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(self.decode_head, HRDAHead):
            raise TypeError(f'HRDAEncoderDecoder needs decode_head=dict(type="HRDAHead", ...), got '
                            f'{type(self.decode_head).__name__}')
        if self.with_auxiliary_head:
            raise TypeError('HRDAEncoderDecoder: auxiliary heads are not supported (HRDA has none)')
        ratio = 1 / context_scale
        if not (0 < context_scale < 1 and abs(ratio - round(ratio)) < 1e-6):
            raise ValueError(f'HRDAEncoderDecoder: context_scale must be 1/k for an integer k > 1 '
                             f'(HRDA: 0.5), got {context_scale}')
        if len(detail_crop_size) != 2 or crop_coord_divisible < 1:
            raise ValueError('HRDAEncoderDecoder: detail_crop_size is (h, w) and '
                             'crop_coord_divisible >= 1, got '
                             f'{detail_crop_size} and {crop_coord_divisible}')
        self.context_scale = float(context_scale)
        self.ratio = int(round(ratio))
        self.detail_crop_size = tuple(int(s) for s in detail_crop_size)
        self.crop_coord_divisible = int(crop_coord_divisible)
        self.detail_slide_overlapping = detail_slide_overlapping

    # ------------------------------------------------------------------ views
    def context_image(self, img: Tensor) -> Tensor:
        """The context view: ``img`` [B, 3, H, W] downscaled to [B, 3, H * s, W * s]."""
        size = (round(img.shape[2] * self.context_scale), round(img.shape[3] * self.context_scale))
        return resize(img, size=size, mode='bilinear', align_corners=self.align_corners)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (and neck) features of the context view."""
        return self._features(self.context_image(inputs))

    def _features(self, img: Tensor) -> List[Tensor]:
        x = self.backbone(img)
        return self.neck(x) if self.with_neck else x

    def _fused_box(self, box: Box, detail: Tensor) -> Box:
        """``box`` in input pixels -> on the decoder's grid (the fused prediction's)."""
        stride = (box[1] - box[0]) // detail.shape[2]
        if stride * detail.shape[2] != box[1] - box[0] or any(c % stride for c in box):
            raise ValueError(f'HRDA detail crop {box} does not fall on the decoder grid (output '
                             f'stride {stride}): use a crop size and crop_coord_divisible that are '
                             'multiples of the output stride times the scale ratio')
        return tuple(c // stride for c in box)

    def forward_train_scales(self, img: Tensor, box: Optional[Box] = None
                             ) -> Tuple[HRDALogits, Box, Tensor, List[Tensor]]:
        """One training forward of both views.

        Args:
            img (Tensor): [B, 3, H, W].
            box (tuple, optional): The detail crop ``(y1, y2, x1, x2)`` in input pixels; default:
                a random one (:func:`random_crop_box`).

        Returns:
            tuple: the :class:`HRDALogits`, the box, the context image and its features.
        """
        if box is None:
            box = random_crop_box(img.shape[2:], self.detail_crop_size, self.crop_coord_divisible)
        context_img = self.context_image(img)
        context_feats = self._features(context_img)
        y1, y2, x1, x2 = box
        detail = self.decode_head.head(self._features(img[:, :, y1:y2, x1:x2]))
        logits = self.decode_head.forward_scales(context_feats, detail, self.ratio,
                                                 self._fused_box(box, detail))
        return logits, box, context_img, context_feats

    # ------------------------------------------------------------------ mmseg API
    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        logits, box, _, _ = self.forward_train_scales(inputs)
        return add_prefix(self.decode_head.loss_by_scales(logits, data_samples, box), 'decode')

    def detail_logits(self, inputs: Tensor) -> Tensor:
        """[B, C, h, w] detail logits of the whole input on the decoder grid, from sliding
        ``detail_crop_size`` windows (stride: half of it if overlapping), averaged."""
        window = tuple(min(c, s) for c, s in zip(self.detail_crop_size, inputs.shape[2:]))
        stride = tuple(max(c // 2, 1) for c in window) if self.detail_slide_overlapping else window
        boxes = sliding_boxes(inputs.shape[2:], window, stride)
        crops = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])
        logits = self.decode_head.head(self._features(crops))  # [n * B, C, h_w, w_w]
        b = inputs.shape[0]
        step = window[0] // logits.shape[2]
        out = logits.new_zeros((b, logits.shape[1], inputs.shape[2] // step,
                                inputs.shape[3] // step))
        count = logits.new_zeros((1, 1, *out.shape[2:]))
        for i, (y1, y2, x1, x2) in enumerate(boxes):
            ys, xs = slice(y1 // step, y2 // step), slice(x1 // step, x2 // step)
            out[:, :, ys, xs] += logits[i * b:(i + 1) * b]
            count[:, :, ys, xs] += 1
        return out / count

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[List[dict]] = None
                      ) -> Tensor:
        """Fused logits [B, C, H, W] of the whole input (context + sliding detail), resized to
        the input."""
        context_feats = self.extract_feat(inputs)
        detail = self.detail_logits(inputs)
        logits = self.decode_head.forward_scales(context_feats, detail, self.ratio).fused
        return resize(logits, size=inputs.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        return self.encode_decode(inputs)

    # ------------------------------------------------------------------ AdaptationStudent
    def adaptation_outputs(self, img: Tensor) -> StudentOutputs:
        logits, box, context_img, context_feats = self.forward_train_scales(img)
        head = self.decode_head
        y1, y2, x1, x2 = box
        views = []
        if head.detail_loss_weight > 0:
            views.append(LogitView('detail', self._to(logits.detail, (y2 - y1, x2 - x1)), box,
                                   head.detail_loss_weight))
        if head.context_loss_weight > 0:
            views.append(LogitView('context', self._to(logits.context, img.shape[2:]),
                                   (0, img.shape[2], 0, img.shape[3]), head.context_loss_weight))
        return StudentOutputs(
            logits=self._to(logits.fused, img.shape[2:]), decoder_logits=logits.fused,
            backbone_feats=tuple(context_feats), backbone_input=context_img, views=tuple(views),
            loss_weight=1 - head.detail_loss_weight - head.context_loss_weight)

    def supervised_adaptation_outputs(self, img: Tensor, samples
                                      ) -> Tuple[Dict[str, Tensor], StudentOutputs]:
        logits, box, context_img, context_feats = self.forward_train_scales(img)
        losses = add_prefix(self.decode_head.loss_by_scales(logits, samples, box), 'decode')
        return losses, StudentOutputs(
            logits=self._to(logits.fused, img.shape[2:]), decoder_logits=logits.fused,
            backbone_feats=tuple(context_feats), backbone_input=context_img)

    @torch.no_grad()
    def label_logits(self, img: Tensor) -> Tensor:
        return self.encode_decode(img)

    def _to(self, logits: Tensor, size) -> Tensor:
        return resize(logits, size=tuple(size), mode='bilinear', align_corners=self.align_corners)
