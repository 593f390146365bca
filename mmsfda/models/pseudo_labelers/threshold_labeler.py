"""Confidence-threshold pseudo-labels: DACS / DAFormer's scalar pseudo-weight, or a hard mask."""
import torch
from torch import Tensor

from mmseg.registry import MODELS
from .base_pseudo_labeler import BasePseudoLabeler
from .pseudo_labels import PseudoLabels

WEIGHT_MODES = ('dacs', 'pixel', 'none')


@MODELS.register_module()
class ThresholdLabeler(BasePseudoLabeler):
    """Argmax pseudo-labels with a confidence threshold (DACS, Tranheden et al. 2021; DAFormer).

    Let q = max_c p_c (the confidence) and y = argmax_c p_c. The three weight modes:

    * ``'dacs'``: every valid pixel keeps its argmax label; its weight is the scalar
      w = |{q >= threshold}| / |valid pixels|. With ``per_image=False`` (DACS and DAFormer,
      arXiv:2111.14887, Sec. 3.1) one scalar is computed over the whole batch; with
      ``per_image=True`` one per image.
    * ``'pixel'``: hard mask: label y and weight 1 where q >= threshold, label 255 and weight 0 elsewhere.
    * ``'none'``: label y and weight 1 on every valid pixel.

    ``ignore_top`` / ``ignore_bottom`` are DAFormer's ``pseudo_weight_ignore_top/bottom`` (15 / 120 for
    GTA->Cityscapes): the top and bottom rows (ego-car hood, rectification border) get weight 0. As in
    DAFormer the DACS fraction is computed *before* this crop. Unlike DAFormer the cropped rows are also
    labelled 255, so that weight-agnostic consumers (statistics, negative labels) skip them too; a
    weighted loss sees the same thing either way.

    Args:
        threshold (float): confidence threshold tau, compared with ``>=`` as in DAFormer. Default 0.968.
        weight_mode (str): ``'dacs'``, ``'pixel'`` or ``'none'``. Default ``'dacs'``.
        per_image (bool): ``'dacs'`` mode only: one weight per image instead of one per batch.
        ignore_top (int): number of top rows with weight 0. Default 0.
        ignore_bottom (int): number of bottom rows with weight 0. Default 0.

    Extras: ``'confidence'`` [B, H, W] (q), ``'prediction'`` [B, H, W] (y), and in ``'dacs'`` mode
    ``'dacs_weight'`` [B] (the scalar of each image, equal across the batch unless ``per_image``).
    """

    def __init__(self,
                 threshold: float = 0.968,
                 weight_mode: str = 'dacs',
                 per_image: bool = False,
                 ignore_top: int = 0,
                 ignore_bottom: int = 0):
        super().__init__()
        if weight_mode not in WEIGHT_MODES:
            raise ValueError(f'weight_mode must be one of {WEIGHT_MODES}, got {weight_mode!r}')
        if ignore_top < 0 or ignore_bottom < 0:
            raise ValueError('ignore_top and ignore_bottom must be >= 0')
        self.threshold = float(threshold)
        self.weight_mode = weight_mode
        self.per_image = per_image
        self.ignore_top = int(ignore_top)
        self.ignore_bottom = int(ignore_bottom)

    def select(self, probs: Tensor, valid: Tensor, **ctx) -> PseudoLabels:
        conf, labels = probs.max(dim=1)
        conf = conf.float()  # compare in float32 also under AMP (0.968 is not a float16)
        confident = (conf >= self.threshold) & valid
        extras = dict(confidence=conf, prediction=labels)
        if self.weight_mode == 'dacs':
            dims = (1, 2) if self.per_image else (0, 1, 2)
            num_confident = confident.sum(dim=dims, keepdim=True).float()
            num_valid = valid.sum(dim=dims, keepdim=True).float().clamp(min=1.0)
            weight = (num_confident / num_valid).expand_as(conf)
            weights = weight.float().contiguous()
            extras['dacs_weight'] = weights[:, 0, 0].clone()
        elif self.weight_mode == 'pixel':
            labels = labels.masked_fill(~confident, self.ignore_index)
            weights = confident.float()
        else:
            weights = torch.ones_like(conf, dtype=torch.float32)
        if self.ignore_top > 0 or self.ignore_bottom > 0:
            rows = torch.arange(conf.shape[1], device=conf.device)
            cropped = (rows < self.ignore_top) | (rows >= conf.shape[1] - self.ignore_bottom)
            cropped = cropped.view(1, -1, 1)
            labels = labels.masked_fill(cropped, self.ignore_index)
            weights = weights.masked_fill(cropped, 0.0)
        return PseudoLabels(labels=labels, weights=weights, probs=probs, extras=extras)
