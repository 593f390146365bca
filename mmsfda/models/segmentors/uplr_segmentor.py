"""UPLR's adversarial stage: AdvEnt alignment rectified toward the target's uncertain classes (TGAA),
with FDA as the image-translation step (Wang et al., ICCV 2021)."""
from typing import Optional, Tuple

from mmseg.registry import MODELS
from torch import Tensor

from ..losses.rectified_adversarial_loss import (RECTIFIERS, rectified_gan_loss,
                                                 uncertainty_rectifier)
from ..pseudo_labelers.class_uncertainty import ClassUncertainty
from .adversarial_segmentor import SOURCE, AdversarialSegmentor
from .base_adaptation_segmentor import Branch
from .student_outputs import StudentOutputs


@MODELS.register_module()
class UPLRSegmentor(AdversarialSegmentor):
    """The "AA" stage of UPLR (ICCV 2021): output-space adversarial adaptation (AdvEnt's
    discriminator and two optimisers, :class:`AdversarialSegmentor`), plus

    * **IT** (image translation; the paper's is BDL-style, ours FDA, Yang and Soatto, CVPR 2020,
      arXiv:2004.05498): with ``style_transfer``, source images take the target batch's
      low-frequency amplitude before every step (source image i takes target image
      ``i % B_target``'s);
    * **TGAA** (target-guided uncertainty rectification): with ``rectifier``, the segmenter's
      adversarial term is weighted per target pixel by :func:`uncertainty_rectifier` of its
      current prediction (``'ratio'``: ``I^y / mean I``; ``'top_k'``: ``1 + [y in S_k]``; both
      [U] reconstructions);
    * the target class uncertainty ``I^c`` / ``S_k`` in ``class_uncertainty`` (a
      :class:`ClassUncertainty` module, so it is in every checkpoint), filled at the start of the
      stage by :class:`~mmsfda.engine.hooks.ClassUncertaintyHook` (which also drives the
      soft-balance source sampler, SR).

    Args:
        top_k (int): k of ``S_k``. Defaults to 5 ([U]).
        rectifier (str, optional): None (plain AdvEnt term), ``'ratio'`` or ``'top_k'``.
        style_transfer (dict, optional): An ``FDA`` config (the IT step); None: no translation.
        **kwargs: See :class:`AdversarialSegmentor`.
    """

    def __init__(self, top_k: int = 5, rectifier: Optional[str] = None,
                 style_transfer: Optional[dict] = None, **kwargs):
        if rectifier is not None and rectifier not in RECTIFIERS:
            raise ValueError(f'rectifier must be None or one of {RECTIFIERS}, got {rectifier!r}')
        super().__init__(**kwargs)
        self.rectifier = rectifier
        self.class_uncertainty = ClassUncertainty(self.num_classes, top_k)
        self.style_transfer = MODELS.build(style_transfer) if style_transfer else None

    def split_batch(self, inputs, data_samples) -> Tuple[Optional[Branch], Branch]:
        source, target = super().split_batch(inputs, data_samples)
        if self.style_transfer is None:
            return source, target
        img = self.style_transfer(source.img, target.img, self.data_preprocessor.mean.view(-1),
                                  self.data_preprocessor.std.view(-1))
        return Branch(img, source.samples), target

    def adversarial_term(self, d_out: Tensor, outputs: StudentOutputs) -> Tensor:
        if self.rectifier is None:
            return super().adversarial_term(d_out, outputs)
        cu = self.class_uncertainty
        weight = uncertainty_rectifier(outputs.logits.detach().argmax(1), cu.values, cu.uncertain,
                                       cu.present, self.rectifier)
        return rectified_gan_loss(d_out, SOURCE, weight, self.gan_mode)
