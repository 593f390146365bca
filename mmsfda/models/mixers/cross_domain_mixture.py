"""DiGA's cross-domain mixture augmentation: photometric source pixels on a translated background.

DiGA (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.2, "cross-domain mixture data
augmentation"). For source images x_s [B, 3, H, W] with labels y_s [B, H, W]:

1. photometric view ``x_aug = beta * Aug(x_s) + (1 - beta) * x_s`` (beta 0.4 in the warm-up,
   0.3 in self-training; Aug: :class:`PhotometricAugment`);
2. translated view ``x_tr`` from a provider (:class:`FDATranslatedView`, a learned translator, or
   none);
3. class mask M: floor(n / 2) of the n label values present in y_s (255 counts), plus 255 always
   (:class:`ClassMix` with ``include_ignore=True, half='floor', always_paste_ignore=True``);
4. ``x_mix = M * x_aug + (1 - M) * x_tr``; the label stays y_s (same geometry).

Without a provider (``translator=None``, DiGA's domain-generalisation variant: no target data at
all) the mixed view is ``x_aug``.
"""
from dataclasses import dataclass
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


@dataclass
class MixtureViews:
    """Attributes:
        mixed (Tensor): [B, 3, H, W] the view the student and teacher see beside the clean one.
        augmented (Tensor): [B, 3, H, W] the blended photometric view ``x_aug``.
        translated (Tensor | None): [B, 3, H, W] ``x_tr`` (None without a provider).
        mask (Tensor | None): [B, H, W] bool, True where ``mixed`` is ``x_aug``.
    """
    mixed: Tensor
    augmented: Tensor
    translated: Optional[Tensor]
    mask: Optional[Tensor]


@MODELS.register_module()
class CrossDomainMixture(nn.Module):
    """DiGA's cross-domain mixture (module docstring).

    Args:
        beta (float): Blend of the augmented image in the photometric view, in [0, 1].
        augment (dict): The photometric augmentation. Defaults to ``PhotometricAugment()``
            (DiGA's GTA5 settings).
        translator (dict, optional): The translated-view provider (a
            :class:`BaseTranslatedView`), e.g. ``dict(type='FDATranslatedView')``; None: no
            translated view (domain generalisation).
        class_mix (dict): The mixer that draws the class mask. Defaults to DiGA's rule.
    """

    def __init__(self, beta: float = 0.4, augment: Optional[dict] = None,
                 translator: Optional[dict] = None, class_mix: Optional[dict] = None):
        super().__init__()
        if not 0 <= beta <= 1:
            raise ValueError(f'CrossDomainMixture: beta must be in [0, 1], got {beta}')
        from ..augmentations.translated_view import BaseTranslatedView
        self.beta = float(beta)
        self.augment = MODELS.build(augment or dict(type='PhotometricAugment'))
        self.translator = MODELS.build(translator) if translator else None
        if self.translator is not None and not isinstance(self.translator, BaseTranslatedView):
            raise TypeError(f'CrossDomainMixture: translator must be a BaseTranslatedView '
                            f'(FDATranslatedView, ...), got {type(self.translator).__name__}')
        self.class_mix = MODELS.build(class_mix or dict(
            type='ClassMix', include_ignore=True, half='floor', always_paste_ignore=True))

    @property
    def needs_target(self) -> bool:
        """Whether the mixture needs target images (its provider does)."""
        return self.translator is not None and self.translator.needs_target

    def photometric_view(self, img: Tensor, mean: Tensor, std: Tensor,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """``beta * Aug(img) + (1 - beta) * img`` for normalised ``img`` [B, 3, H, W] (the blend
        is linear, so blending normalised or raw images is the same)."""
        aug = self.augment(img, mean, std, generator=generator)
        return self.beta * aug + (1.0 - self.beta) * img

    def forward(self, img: Tensor, labels: Tensor, target_img: Optional[Tensor], mean: Tensor,
                std: Tensor, generator: Optional[torch.Generator] = None) -> MixtureViews:
        """Mix a source batch.

        Args:
            img (Tensor): [B, 3, H, W] normalised source images.
            labels (Tensor): [B, H, W] source labels (255 = ignore).
            target_img (Tensor | None): [B', 3, H, W] normalised target images, for providers
                that need them.
            mean, std (Tensor): [3] normalisation, 0-255 scale.
            generator (torch.Generator, optional): CPU generator of every random draw.

        Returns:
            MixtureViews
        """
        if labels.shape != (img.shape[0], *img.shape[2:]):
            raise ValueError(f'CrossDomainMixture: labels must be [B, H, W] = '
                             f'{(img.shape[0], *img.shape[2:])}, got {tuple(labels.shape)}')
        with torch.no_grad():
            augmented = self.photometric_view(img, mean, std, generator)
            if self.translator is None:
                return MixtureViews(augmented, augmented, None, None)
            translated = self.translator(img, target_img, mean, std, generator=generator)
            mask = self.class_mix.class_mask(labels, generator)
            mixed = torch.where(mask.unsqueeze(1), augmented, translated)
        return MixtureViews(mixed, augmented, translated, mask)
