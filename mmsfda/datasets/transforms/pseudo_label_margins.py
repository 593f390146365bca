"""HRDA's pseudo-label margins: a mask made before the crop, so only real image borders are ignored."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PseudoLabelMargins(BaseTransform):
    """Add ``valid_pseudo_mask``: 1 inside the image, 0 on its top/bottom/left/right margins.

    HRDA (Hoyer et al., arXiv:2204.13132; its public code's "pseudo-label cropping v2",
    ``crop_pseudo_margins=[30, 240, 30, 30]`` on 2048x1024 Cityscapes frames) does not trust
    pseudo-labels near the image border (rectification artefacts, the ego car's hood). The mask is
    made on the whole (resized) image *before* the random crop and then cropped and flipped with
    the image (it joins ``seg_fields``), so a crop taken from the middle of the frame loses no
    rows; DAFormer's ``pseudo_weight_ignore_top/bottom`` instead cut rows of every crop.
    :class:`PackSegInputsWithWeights` packs it as ``valid_pseudo_mask`` (``PixelData`` [1, H, W]);
    the adaptation segmentor hands it to the pseudo-labeler as ``valid_mask`` (label 255, weight 0
    outside).

    Put it after ``Resize`` and before ``RandomCrop``; margins are in pixels of the resized image.

    Args:
        margins (Sequence[int]): ``(top, bottom, left, right)``. HRDA: (30, 240, 30, 30).
    """

    def __init__(self, margins: Sequence[int]):
        if len(margins) != 4 or any(int(m) < 0 for m in margins):
            raise ValueError(f'PseudoLabelMargins: margins must be (top, bottom, left, right) >= 0, '
                             f'got {margins!r}')
        self.margins = tuple(int(m) for m in margins)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        top, bottom, left, right = self.margins
        if top + bottom >= h or left + right >= w:
            raise ValueError(f'PseudoLabelMargins: margins {self.margins} leave nothing of the '
                             f'{h}x{w} image {results.get("img_path")}')
        mask = np.zeros((h, w), dtype=np.uint8)
        mask[top:h - bottom, left:w - right] = 1
        results['valid_pseudo_mask'] = mask
        fields = results.setdefault('seg_fields', [])
        if 'valid_pseudo_mask' not in fields:
            fields.append('valid_pseudo_mask')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(margins={self.margins})'
