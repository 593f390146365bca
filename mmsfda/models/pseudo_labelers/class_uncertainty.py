"""Target class-level uncertainty of UPLR (Wang et al., ICCV 2021; the poster's formula U1).

Pixel uncertainty ``I(i) = -(1 / log C) sum_c p_ic log p_ic`` (normalised entropy, in [0, 1]);
class uncertainty ``I^c`` = the mean of ``I(i)`` over the pixels of the whole target set whose
argmax is c; ``S_k`` = the k classes of highest ``I^c`` (among the classes predicted at least once).

:class:`ClassUncertainty` streams the sums over a dataset with the offline statistics protocol
of the labelling pass (``reset_stats`` / ``accumulate`` / ``finalize``, see
:func:`mmsfda.engine.pseudo_labeling.dataset_statistics`); ``finalize`` all-reduces over ranks.
"""
import math
from typing import Dict, List, Optional

import torch
from mmengine import dist
from torch import Tensor, nn

from .base_pseudo_labeler import finite_pixels


def pixel_uncertainty(probs: Tensor) -> Tensor:
    """Normalised entropy [B, H, W] in [0, 1] of probabilities ``probs`` [B, C, H, W].

    ``0 log 0`` is 0 (``xlogy``), so one-hot pixels have uncertainty 0, never NaN.
    """
    c = probs.shape[1]
    if c < 2:
        raise ValueError(f'pixel uncertainty needs at least 2 classes, got probs {tuple(probs.shape)}')
    p = probs.float()
    return (-torch.special.xlogy(p, p).sum(1) / math.log(c)).clamp_(0.0, 1.0)


def top_k_mask(values: Tensor, present: Tensor, k: int) -> Tensor:
    """[C] bool: the ``k`` largest ``values`` [C] among the ``present`` [C] classes (fewer if
    fewer are present); ties go to the lower class id (stable sort)."""
    score = torch.where(present, values.double(), torch.full_like(values, -math.inf).double())
    order = torch.sort(score, descending=True, stable=True).indices
    mask = torch.zeros_like(present)
    mask[order[:min(int(k), int(present.sum()))]] = True
    return mask


class ClassUncertainty(nn.Module):
    """Dataset-level class uncertainty ``I^c`` and the top-k uncertain classes ``S_k``.

    Buffers (saved with the model or the labeler, so the state of a round or stage resumes):
    ``values`` [C] float64 (``I^c``, 0 for a class no pixel is predicted as), ``present`` [C] bool,
    ``uncertain`` [C] bool (``S_k``), and the running sums ``unc_sum`` / ``pixel_count`` [C].

    Args:
        num_classes (int): C.
        top_k (int): k of ``S_k`` (UPLR: [U], exposed; 5 by default).
    """

    def __init__(self, num_classes: int, top_k: int = 5):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}')
        if not 1 <= top_k <= num_classes:
            raise ValueError(f'top_k must be in [1, num_classes={num_classes}], got {top_k}')
        self.num_classes = num_classes
        self.top_k = top_k
        for name, dtype in (('unc_sum', torch.float64), ('pixel_count', torch.float64),
                            ('values', torch.float64), ('present', torch.bool),
                            ('uncertain', torch.bool)):
            self.register_buffer(name, torch.zeros(num_classes, dtype=dtype))

    def reset_stats(self) -> None:
        self.unc_sum.zero_()
        self.pixel_count.zero_()

    @torch.no_grad()
    def accumulate(self, probs: Tensor, valid: Optional[Tensor] = None, **ctx) -> None:
        """Add a batch: ``probs`` [B, C, H, W], ``valid`` [B, H, W] bool (pixels to count; pixels
        with non-finite probabilities are never counted)."""
        pred, unc, valid = self.split(probs, valid)
        self.add(pred[valid], unc[valid])

    def split(self, probs: Tensor, valid: Optional[Tensor] = None):
        """``(prediction [B, H, W] int64, uncertainty [B, H, W], valid [B, H, W] bool)``."""
        if probs.dim() != 4 or probs.shape[1] != self.num_classes:
            raise ValueError(f'probs must be [B, {self.num_classes}, H, W], got '
                             f'{tuple(probs.shape)}')
        valid = finite_pixels(probs, valid)
        probs = torch.where(valid.unsqueeze(1), probs, probs.new_zeros(()))
        return probs.argmax(1), pixel_uncertainty(probs), valid

    def add(self, pred: Tensor, unc: Tensor) -> None:
        """Add pixels: ``pred`` [P] class ids, ``unc`` [P] their uncertainties."""
        c = self.num_classes
        self.unc_sum += torch.bincount(pred, weights=unc.double(), minlength=c)[:c].to(self.unc_sum)
        self.pixel_count += torch.bincount(pred, minlength=c)[:c].to(self.pixel_count)

    def finalize(self) -> Tensor:
        """Reduce the sums over ranks and compute ``I^c`` and ``S_k``; returns ``values`` [C]."""
        if dist.get_world_size() > 1:
            dist.all_reduce(self.unc_sum)
            dist.all_reduce(self.pixel_count)
        self.present.copy_(self.pixel_count > 0)
        self.values.copy_(torch.where(self.present, self.unc_sum / self.pixel_count.clamp_min(1),
                                      torch.zeros_like(self.unc_sum)))
        self.uncertain.copy_(top_k_mask(self.values, self.present, self.top_k))
        return self.values

    @property
    def uncertain_classes(self) -> List[int]:
        """``S_k`` as class ids, most uncertain first."""
        ids = torch.nonzero(self.uncertain).flatten().tolist()
        return sorted(ids, key=lambda c: (-float(self.values[c]), c))

    def summary(self, class_names: Optional[List[str]] = None) -> Dict[str, object]:
        """JSON-able ``I^c`` (per class), pixel counts and ``S_k``."""
        names = list(class_names) if class_names else [str(c) for c in range(self.num_classes)]
        return dict(num_classes=self.num_classes, top_k=self.top_k, classes=names,
                    class_uncertainty=[float(v) for v in self.values],
                    pixel_count=[int(v) for v in self.pixel_count],
                    uncertain_classes=self.uncertain_classes)

    def load_summary(self, summary: dict, source: str, class_names: Optional[List[str]] = None):
        """Set ``values``/``present``/``uncertain`` from :meth:`summary`'s output (e.g. a
        ``class_uncertainty.json``), checking that it is for these classes.

        Raises:
            ValueError: another class count, other class names, or non-finite values (names
                ``source`` and the key).
        """
        if summary.get('num_classes') != self.num_classes:
            raise ValueError(f'{source}: num_classes is {summary.get("num_classes")!r}, the model '
                             f'has {self.num_classes} classes: it was computed for another dataset')
        if class_names is not None and list(summary.get('classes', [])) != list(class_names):
            raise ValueError(f'{source}: classes {summary.get("classes")} differ from the '
                             f"dataset's {list(class_names)}")
        values = torch.tensor(summary['class_uncertainty'], dtype=torch.float64)
        counts = torch.tensor(summary['pixel_count'], dtype=torch.float64)
        if values.shape != (self.num_classes, ) or not bool(torch.isfinite(values).all()):
            raise ValueError(f'{source}: class_uncertainty must be {self.num_classes} finite '
                             f'numbers, got {summary["class_uncertainty"]}')
        self.pixel_count.copy_(counts)
        self.present.copy_(counts > 0)
        self.values.copy_(values)
        self.uncertain.copy_(top_k_mask(values, self.present, self.top_k))
