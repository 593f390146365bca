"""Output-space adversarial adaptation: AdaptSegNet, AdvEnt (two optimisers)."""
import dataclasses
import math
from typing import Dict, Optional, Sequence, Tuple

from mmseg.registry import MODELS
from torch import Tensor

from ..losses.gan_loss import GAN_MODES, gan_loss
from .base_adaptation_segmentor import BaseAdaptationSegmentor, Branch
from .student_outputs import StudentOutputs

SOURCE, TARGET = 0.0, 1.0  # domain labels of the discriminator (AdvEnt's convention)
INPUT_SPACES = ('softmax', 'entropy')


@MODELS.register_module()
class AdversarialSegmentor(BaseAdaptationSegmentor):
    """UDA by fooling a domain discriminator on the segmentation output (one per output level).

    * AdaptSegNet (Tsai et al., CVPR 2018, arXiv:1802.10349, Eq. 3-5): the discriminator sees
      softmax probabilities (``input_space='softmax'``), at two levels (``multi_level=True``: the
      decode head and an auxiliary head on layer 3), lambda_adv 0.001 / 0.0002.
    * AdvEnt (Vu et al., CVPR 2019, arXiv:1811.12833, Eq. 7-8): the discriminator sees the weighted
      self-information map ``-p log p / log C`` (``input_space='entropy'``), lambda_adv 0.001.

    Two optimiser steps per iteration (``optim_steps``): the segmenter (source supervised loss,
    any ``target_losses``, and ``lambda_adv * L_gan(D(target map), source label)``), then the
    discriminators (``L_gan(D(source map), source) / 2 + L_gan(D(target map), target) / 2`` on the
    detached maps of the first step). The config gives ``optim_wrapper`` with
    ``constructor='MultiOptimWrapperConstructor'`` and the entries ``student`` and
    ``discriminator`` (``module='aux'``).

    Args:
        discriminator (dict): Config of one discriminator (``FCDiscriminator``); one is built per
            level into ``aux`` (``aux.main``, ``aux.aux``). ``in_channels`` defaults to the
            student's number of classes.
        input_space (str): ``'softmax'`` or ``'entropy'``.
        gan_mode (str): ``'bce'`` or ``'lsgan'``. Defaults to 'bce'.
        lambda_adv (Sequence[float]): Weight of the adversarial term per level (main[, aux]).
        multi_level (bool): Also align the student's auxiliary head (it needs one). Defaults to
            False.
        **kwargs: See :class:`BaseAdaptationSegmentor` (``setting`` must be 'uda').
    """
    optim_steps = (('student', 'loss'), ('discriminator', 'discriminator_loss'))

    def __init__(self,
                 discriminator: dict,
                 input_space: str = 'softmax',
                 gan_mode: str = 'bce',
                 lambda_adv: Sequence[float] = (0.001, ),
                 multi_level: bool = False,
                 **kwargs):
        if input_space not in INPUT_SPACES:
            raise ValueError(f'input_space must be one of {INPUT_SPACES}, got {input_space!r}')
        if gan_mode not in GAN_MODES:
            raise ValueError(f'gan_mode must be one of {GAN_MODES}, got {gan_mode!r}')
        levels = ('main', 'aux') if multi_level else ('main', )
        if len(lambda_adv) != len(levels):
            raise ValueError(f'lambda_adv needs one weight per level {levels}, got {lambda_adv}')
        if kwargs.get('setting', 'sfda') != 'uda':
            raise ValueError('adversarial alignment needs source images: set setting="uda"')
        discriminator = dict(discriminator)
        discriminator.setdefault('in_channels', kwargs['student']['decode_head']['num_classes'])
        kwargs['aux'] = dict(kwargs.get('aux') or {}, **{lv: discriminator for lv in levels})
        super().__init__(**kwargs)
        if multi_level and not self.student.with_auxiliary_head:
            raise ValueError('multi_level=True needs a student with an auxiliary_head (layer 3)')
        self.levels = levels
        self.input_space = input_space
        self.gan_mode = gan_mode
        self.lambda_adv = dict(zip(levels, map(float, lambda_adv)))
        # Detached per-level maps of the segmenter step, read by the discriminator step.
        self._maps: Dict[str, Dict[str, Tensor]] = {}

    # --- the segmenter step
    def source_loss(self, source: Branch) -> Tuple[Dict[str, Tensor], Optional[StudentOutputs]]:
        """mmseg's supervised loss (decode and auxiliary heads), keeping the outputs' maps."""
        losses, out = self.supervised_outputs(source.img, source.samples)
        self._maps = {'source': self._domain_maps(out, source.img, detach=True)}
        return losses, None  # nothing later needs the source graph: it is freed early

    def student_forward(self, img: Tensor, source_outputs=None) -> StudentOutputs:
        out = super().student_forward(img, source_outputs)
        if 'aux' in self.levels:
            out = dataclasses.replace(
                out, aux_logits=self.student.auxiliary_head(list(out.backbone_feats)))
        return out

    def target_loss(self, outputs: StudentOutputs, pseudo_labels, target: Branch
                    ) -> Dict[str, Tensor]:
        losses = super().target_loss(outputs, pseudo_labels, target)
        maps = self._domain_maps(outputs, target.img, detach=False)
        self._maps['target'] = {k: v.detach() for k, v in maps.items()}
        for level, m in maps.items():
            # The discriminator's weights get gradients here too; its own step zeroes them first.
            d_out = self.aux[level](m)
            losses[f'loss_adv_{level}'] = self.lambda_adv[level] * self.adversarial_term(
                d_out, outputs)
        return losses

    def adversarial_term(self, d_out: Tensor, outputs: StudentOutputs) -> Tensor:
        """The segmenter's term on the discriminator's logits [B, 1, h, w] of its target maps:
        be taken for source (``outputs`` are the target outputs, for subclasses that weight it)."""
        return gan_loss(d_out, SOURCE, self.gan_mode)

    # --- the discriminator step (a forward mode, so that DDP runs it)
    def discriminator_loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        """Discriminator losses on the maps the segmenter step left (source 0, target 1)."""
        if set(self._maps) != {'source', 'target'}:
            raise RuntimeError('discriminator_loss runs after the segmenter step of the same '
                               'iteration (train_step runs both)')
        maps, self._maps = self._maps, {}
        losses = {}
        for level in self.levels:
            d_src = self.aux[level](maps['source'][level])
            d_tgt = self.aux[level](maps['target'][level])
            losses[f'loss_d_{level}'] = 0.5 * (gan_loss(d_src, SOURCE, self.gan_mode) +
                                               gan_loss(d_tgt, TARGET, self.gan_mode))
        return losses

    def _domain_maps(self, out: StudentOutputs, img: Tensor, detach: bool) -> Dict[str, Tensor]:
        """Per level, the discriminator's input [B, C, H, W] at the input resolution."""
        logits = {'main': out.logits}
        if 'aux' in self.levels:
            logits['aux'] = self._resize_logits(self.student, out.aux_logits, img)
        maps = {}
        for level, lg in logits.items():
            lg = lg.detach() if detach else lg
            if self.input_space == 'softmax':
                maps[level] = lg.float().softmax(1)
            else:  # AdvEnt's weighted self-information, normalised by log C
                log_p = lg.float().log_softmax(1)
                maps[level] = -log_p.exp() * log_p / math.log(lg.shape[1])
        return maps
