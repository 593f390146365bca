"""Class-balanced random crop on pseudo-labels, batched on tensors (ATP's public Teach step)."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

Box = Tuple[int, int, int, int]  # (y1, y2, x1, x2)


@MODELS.register_module()
class ClassBalancedCrop(nn.Module):
    """Choose a crop window per image whose (pseudo-)label is not dominated by one class.

    mmseg's ``RandomCrop(cat_max_ratio=...)`` rule, applied to a batch of pseudo-labels inside the
    model (ATP's public ``atp_tta`` crops 640x640 with ``cat_max_ratio`` 0.75 on the teacher's
    pseudo-label): up to ``max_tries`` uniform windows are drawn; the first whose most frequent
    class covers less than ``cat_max_ratio`` of its labelled pixels (with at least two classes)
    is kept, else the last one drawn.

    Args:
        crop_size (Sequence[int]): (h, w) of the window.
        cat_max_ratio (float): Largest share of one class. Defaults to 0.75.
        max_tries (int): Windows drawn per image. Defaults to 10 (mmseg).
        ignore_index (int): Label not counted. Defaults to 255.
    """

    def __init__(self, crop_size: Sequence[int], cat_max_ratio: float = 0.75,
                 max_tries: int = 10, ignore_index: int = 255):
        super().__init__()
        if len(crop_size) != 2 or min(crop_size) < 1:
            raise ValueError(f'crop_size must be (h, w) > 0, got {crop_size}')
        if not 0.0 < cat_max_ratio <= 1.0 or max_tries < 1:
            raise ValueError('cat_max_ratio must be in (0, 1] and max_tries >= 1, got '
                             f'{cat_max_ratio}, {max_tries}')
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.cat_max_ratio, self.max_tries, self.ignore_index = cat_max_ratio, max_tries, \
            ignore_index

    def _random_box(self, h: int, w: int, generator) -> Box:
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y1 = int(torch.randint(0, h - ch + 1, (1, ), generator=generator))
        x1 = int(torch.randint(0, w - cw + 1, (1, ), generator=generator))
        return y1, y1 + ch, x1, x1 + cw

    def balanced(self, labels: Tensor) -> bool:
        """Whether a window's labels [h, w] pass the ``cat_max_ratio`` rule."""
        lab = labels[labels != self.ignore_index]
        if not lab.numel():
            return False
        counts = torch.bincount(lab.flatten().long())
        counts = counts[counts > 0]
        return counts.numel() > 1 and float(counts.max()) / float(counts.sum()) < \
            self.cat_max_ratio

    def boxes(self, labels: Tensor, generator: Optional[torch.Generator] = None) -> List[Box]:
        """One window per image of ``labels`` [B, H, W] (CPU ``generator`` or torch's RNG)."""
        out = []
        h, w = labels.shape[-2:]
        for lab in labels:
            box = None
            for _ in range(self.max_tries):
                box = self._random_box(h, w, generator)
                if self.cat_max_ratio >= 1.0 or self.balanced(lab[box[0]:box[1], box[2]:box[3]]):
                    break
            out.append(box)
        return out

    @staticmethod
    def crop(x: Tensor, boxes: List[Box]) -> Tensor:
        """Stack the windows of ``x`` [B, ..., H, W] (every box has the same size)."""
        return torch.stack([xi[..., y1:y2, x1:x2] for xi, (y1, y2, x1, x2) in zip(x, boxes)])

    def forward(self, labels: Tensor, generator: Optional[torch.Generator] = None) -> List[Box]:
        """Same as :meth:`boxes`."""
        return self.boxes(labels, generator)
