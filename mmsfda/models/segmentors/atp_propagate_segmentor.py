"""ATP's Propagate step: easy-to-hard self-training inside the target domain with prototype
contrast (Wang, Liang, Zhang, arXiv:2106.11653; the public ``atp_semi`` in SePiCo form)."""
import dataclasses
from typing import Dict, Optional, Tuple

import torch
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..pseudo_labelers import PseudoLabels
from .base_adaptation_segmentor import BaseAdaptationSegmentor, Branch, StudentView


@MODELS.register_module()
class ATPPropagateSegmentor(BaseAdaptationSegmentor):
    """Mean-teacher training on pairs of easy and hard target images (source-free).

    The batch is ``{'easy': ..., 'target': ...}`` from an :class:`EasyHardPairDataset` (the easy
    images are the lowest-entropy fraction of the target set, the hard ones the rest). Per step,
    with the EMA teacher (``teacher=True`` and ``MeanTeacherHook``):

    1. easy pseudo-labels: the teacher's argmax on the easy image, weight 1
       (``easy_labeler``); hard pseudo-labels: ``pseudo_labeler`` on the hard image (the public
       code's DACS form: argmax with the scalar weight of the pixels with confidence >= 0.968);
    2. ``easy.loss_*``: ``easy_loss`` on the strongly augmented easy image;
    3. the projection head's embeddings of the easy image (detached) update the class
       prototypes with the easy pseudo-labels;
    4. ``mix.loss_*``: ``target_losses`` on ``mixer(easy -> hard)`` (ClassMix: classes of the easy
       pseudo-label pasted onto the hard image; weights 1 on easy pixels, the hard weight
       elsewhere), strongly augmented;
    5. from step ``contrast_begin`` on, ``hard.loss_*``: ``contrast_loss`` between the student's
       embeddings of the hard image and the prototypes, to the hard pseudo-labels (pixels of
       weight 0 ignored).

    State (all in the checkpoint, exact on resume): ``aux.proj_head`` (trained with the student),
    ``aux.prototypes`` (buffers) and the step counter ``step``.

    Args:
        easy_labeler (dict): Labeler of the easy images. Default: all argmax labels, weight 1.
        easy_loss (dict): Loss on the easy images. Default ``PseudoLabelCELoss``.
        mixer (dict): Easy -> hard mixer. Default ``ClassMix``.
        strong_augment (dict, optional): Augmentation of the student's inputs. Default
            ``StrongAugment``.
        contrast_loss (dict, optional): ``PrototypeContrastLoss``; None: no contrast (then
            ``aux`` needs neither head nor prototypes).
        contrast_begin (int): Step from which the contrast loss trains (the public code: 1500).
        **kwargs: See :class:`BaseAdaptationSegmentor` (``student``, ``teacher=True``,
            ``aux=dict(proj_head=..., prototypes=...)``, ``pseudo_labeler``, ``target_losses``).
    """

    def __init__(self,
                 easy_labeler: dict = dict(type='ThresholdLabeler', weight_mode='none'),
                 easy_loss: dict = dict(type='PseudoLabelCELoss', loss_name='loss_ce'),
                 mixer: dict = dict(type='ClassMix'),
                 strong_augment: Optional[dict] = dict(type='StrongAugment'),
                 contrast_loss: Optional[dict] = dict(type='PrototypeContrastLoss'),
                 contrast_begin: int = 1500,
                 **kwargs):
        if kwargs.get('setting', 'sfda') != 'sfda':
            raise ValueError('ATPPropagateSegmentor is source-free: setting must be "sfda"')
        if not kwargs.get('teacher'):
            raise ValueError('ATPPropagateSegmentor labels with a mean teacher: set teacher=True')
        if not kwargs.get('pseudo_labeler'):
            raise ValueError('ATPPropagateSegmentor needs a pseudo_labeler for the hard images')
        super().__init__(**kwargs)
        self.easy_labeler = MODELS.build(easy_labeler)
        self.easy_loss = MODELS.build(easy_loss)
        self.mixer = MODELS.build(mixer)
        self.strong_augment = MODELS.build(strong_augment) if strong_augment else None
        self.contrast_loss = MODELS.build(contrast_loss) if contrast_loss else None
        if self.contrast_loss is not None:
            missing = [k for k in ('proj_head', 'prototypes') if k not in self.aux]
            if missing:
                raise ValueError(f'the prototype contrast needs aux modules {missing}: '
                                 'aux=dict(proj_head=dict(type="ProjectionHead", ...), '
                                 'prototypes=dict(type="PrototypeEstimator", ...))')
        if contrast_begin < 0:
            raise ValueError(f'contrast_begin must be >= 0, got {contrast_begin}')
        self.contrast_begin = contrast_begin
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    # --- the step
    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        easy, hard = self.split_batch(inputs, data_samples)
        easy_pl = self.easy_labeler(self.teacher_probs(easy.img), data_samples=easy.samples)
        hard_pl = self.pseudo_labels(hard)
        losses = add_prefix(self.easy_step(easy, easy_pl), 'easy')
        view = self.student_view(easy, hard, hard_pl, easy_pl)
        outputs = self.student_forward(view.img)
        losses.update(add_prefix(self.target_loss(outputs, view.pseudo_labels, hard), 'mix'))
        if self.contrast_loss is not None and int(self.step) >= self.contrast_begin:
            losses.update(add_prefix(self.contrast_step(hard, hard_pl), 'hard'))
        if self.training:
            self.step += 1
        return losses

    def split_batch(self, inputs, data_samples) -> Tuple[Branch, Branch]:
        """``(easy, hard)`` branches of an :class:`EasyHardPairDataset` batch."""
        if not isinstance(inputs, dict) or set(inputs) != {'easy', 'target'}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError('ATPPropagateSegmentor trains on {"easy", "target"} batches of an '
                             f'EasyHardPairDataset (train_dataloader.dataset), got {got}')
        return (Branch(inputs['easy'], data_samples['easy']),
                Branch(inputs['target'], data_samples['target']))

    def easy_step(self, easy: Branch, easy_pl: PseudoLabels) -> Dict[str, Tensor]:
        """The loss on the augmented easy image; its embeddings update the prototypes."""
        out = self.student_forward(self._augment(easy.img))
        if self.contrast_loss is not None and self.training:
            with torch.no_grad():
                emb = self.aux.proj_head(out.backbone_feats)
            self._update_prototypes(emb, easy_pl.labels)
        return {self.easy_loss.loss_name: self.easy_loss(out.logits, easy_pl, outputs=out,
                                                         data_samples=easy.samples)}

    def student_view(self, easy: Branch, hard: Branch, hard_pl: PseudoLabels,
                     easy_pl: PseudoLabels = None) -> StudentView:
        """ClassMix of the easy image's pseudo-classes onto the hard image, augmented."""
        mixed = self.mixer(easy.img, easy_pl.labels, hard.img, hard_pl.labels, hard_pl.weights)
        pl = dataclasses.replace(hard_pl, labels=mixed.labels, weights=mixed.weights,
                                 probs=None, extras=dict(hard_pl.extras, mix_mask=mixed.mask))
        return StudentView(self._augment(mixed.img), pl)

    def contrast_step(self, hard: Branch, hard_pl: PseudoLabels) -> Dict[str, Tensor]:
        """Prototype contrast of the student's embeddings of the hard image."""
        emb = self.aux.proj_head(self.student.extract_feat(hard.img))
        protos = self.aux.prototypes
        return {self.contrast_loss.loss_name: self.contrast_loss(
            emb, hard_pl.labels, protos.mean, protos.seen, weights=hard_pl.weights)}

    # --- helpers
    def _augment(self, img: Tensor) -> Tensor:
        if self.strong_augment is None:
            return img
        return self.strong_augment(img, mean=self.data_preprocessor.mean.view(-1),
                                   std=self.data_preprocessor.std.view(-1))

    def _update_prototypes(self, emb: Tensor, labels: Tensor) -> None:
        """Add the [B, D, h, w] embeddings with the [B, H, W] labels (nearest-resized)."""
        lab = torch.nn.functional.interpolate(labels[:, None].float(), size=emb.shape[2:],
                                              mode='nearest')[:, 0].long()
        self.aux.prototypes.update(emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1]),
                                   lab.reshape(-1))
