"""DiGA: distil to generalise (source-only symmetric distillation warm-up), then adapt
(self-training with threshold-free prototype-consensus pseudo-labels).

Shen, Gurram, Liu, Wang, Knoll, "DiGA: Distil to Generalize and then Adapt for Domain Adaptive
Semantic Segmentation", CVPR 2023, arXiv:2304.02222. configs/diga/README.md lists every choice.
"""
import dataclasses
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..pseudo_labelers import IGNORE_INDEX, PseudoLabels, pseudo_label_stats
from .base_adaptation_segmentor import (BaseAdaptationSegmentor, Branch, StudentView,
                                        _labelling_mode, stack_labels)

STAGES = ('warmup', 'selftrain')


class NetworkOutputs(NamedTuple):
    """One network's pass: logits at the input size [B, C, H, W], decode-head logits
    [B, C, h, w] and decode-head features [B, D, h, w]."""
    logits: Tensor
    decoder_logits: Tensor
    feats: Tensor


@MODELS.register_module()
class DiGASegmentor(BaseAdaptationSegmentor):
    """DiGA's two training stages as one segmentor with named steps.

    ``stage='warmup'`` (arXiv:2304.02222, Sec. 3.2), per iteration::

        views = mixture_views(source, target)          # D1: x_mix (cross-domain mixture)
        losses = distillation_step(source, views)      # D2: CE(S(x_s), y_s) + lambda_KD * KD

    where the student and the EMA teacher (``MeanTeacherHook``) both see ``[x_s; x_mix]`` and
    ``SymmetricKDLoss`` distils each teacher view into the other student view. With a mixture
    that needs no target (``translator=None``) the batches may be plain source batches: the
    domain-generalisation variant uses no target data at all.

    ``stage='selftrain'`` (Sec. 3.3) adds, after the same source step (beta 0.3, lambda_KD 0.25)::

        pseudo_labels = pseudo_labels(target)      # D5: offline label kept where the nearest
                                                   #     prototype of the teacher features agrees
        view = student_view(...)                   # 0.3 Aug(x_t) + 0.7 x_t, ClassMix of source
        outputs = student_forward(view.img)        #     classes onto it (DiGA's rule)
        losses += target_loss(...)                 # CE on the mixed image, ignore 255
        update_prototypes(...)                     # D4: EMA m=1e-4 from target and source

    The offline labels come from the dataset (``pseudo_labels_from='dataset'``), written before
    each round by ``SelfTrainingLoop`` with the configured ``pseudo_labeler`` (argmax of every
    pixel) and multi-scale max-fusion TTA; they are made by the **student** (DiGA labels with the
    warm-up student), see :attr:`label_model`. The prototypes (``aux['prototypes']``, a
    :class:`ClassPrototypes`) are initialised by ``PrototypeInitHook`` through
    :meth:`prototype_init_step` and checkpointed with the model.

    Args:
        stage (str): ``'warmup'`` or ``'selftrain'``.
        mixture (dict): The ``CrossDomainMixture`` (beta, augmentation, translated-view
            provider).
        distill_loss (dict): The ``SymmetricKDLoss`` (its ``loss_weight`` is lambda_KD).
        selector (dict, optional): Self-training: the ``PrototypeConsensusSelector``.
        offline_labels_from (str): ``'student'`` (DiGA) or ``'teacher'``: the network that
            writes the offline labels.
        update_prototypes_from (tuple[str]): Self-training: which batches update the
            prototypes, any of ``'target'`` (teacher features masked by selected label and teacher
            argmax) and ``'source'`` (teacher features of the mixed source view masked by ground
            truth and teacher argmax). Defaults to both (DiGA).
        mixer (dict, optional): Self-training: the ClassMix of source classes onto the target
            view (DiGA's rule: ``ClassMix(include_ignore=True, half='floor',
            always_paste_ignore=True)``).
        **kwargs: :class:`BaseAdaptationSegmentor` arguments (student, ``teacher=True``, aux,
            pseudo_labeler, target_losses, ``setting='uda'``, teacher_mode, ...).
    """

    def __init__(self,
                 stage: str = 'warmup',
                 mixture: Optional[dict] = None,
                 distill_loss: Optional[dict] = None,
                 selector: Optional[dict] = None,
                 offline_labels_from: str = 'student',
                 update_prototypes_from: Tuple[str, ...] = ('target', 'source'),
                 mixer: Optional[dict] = None,
                 **kwargs):
        if stage not in STAGES:
            raise ValueError(f'DiGASegmentor: stage must be one of {list(STAGES)}, got {stage!r}')
        if offline_labels_from not in ('student', 'teacher'):
            raise ValueError(f"offline_labels_from must be 'student' or 'teacher', got "
                             f'{offline_labels_from!r}')
        bad = set(update_prototypes_from) - {'target', 'source'}
        if bad:
            raise ValueError(f"update_prototypes_from takes 'target' and 'source', got "
                             f'{sorted(bad)}')
        if not kwargs.get('teacher'):
            raise ValueError('DiGASegmentor needs the EMA teacher: teacher=True')
        kwargs.setdefault('setting', 'uda')
        if stage == 'selftrain':
            prototypes = (kwargs.get('aux') or {}).get('prototypes')
            missing = [k for k, v in (('selector', selector), ('mixer', mixer),
                                      ('aux.prototypes', prototypes),
                                      ('target_losses', kwargs.get('target_losses')))
                       if not v]
            if missing:
                raise ValueError(f'DiGASegmentor(stage="selftrain") needs {missing}')
            if kwargs.get('pseudo_labels_from', 'teacher') != 'dataset':
                raise ValueError('DiGA self-training selects among offline labels: '
                                 'pseudo_labels_from must be "dataset"')
        kwargs.setdefault('decoder_features', True)
        super().__init__(**kwargs)
        self.stage = stage
        self.mixture = MODELS.build(mixture or dict(type='CrossDomainMixture'))
        self.distill_loss = MODELS.build(distill_loss or dict(type='SymmetricKDLoss'))
        self.selector = MODELS.build(selector) if selector else None
        self.mixer = MODELS.build(mixer) if mixer else None
        self.offline_labels_from = offline_labels_from
        self.update_prototypes_from = tuple(update_prototypes_from)

    # ------------------------------------------------------------------ the step
    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        source, target = self.split_batch(inputs, data_samples)
        views = self.mixture_views(source, target)
        src_losses, teacher_out = self.distillation_step(source, views)
        if self.stage == 'warmup':
            return add_prefix(src_losses, 'src')
        losses = add_prefix(self._backward_now(src_losses), 'src')
        pseudo_labels = self.pseudo_labels(target)
        view = self.student_view(source, target, pseudo_labels)
        outputs = self.student_forward(view.img)
        losses.update(add_prefix(self.target_loss(outputs, view.pseudo_labels, target), 'tgt'))
        self.update_prototypes(source, views.mask, teacher_out, pseudo_labels)
        return losses

    # --- named steps
    def split_batch(self, inputs, data_samples) -> Tuple[Branch, Optional[Branch]]:
        """``(source, target or None)``: a warm-up whose mixture needs no target images takes
        plain source batches (domain generalisation) or the source branch of a pair."""
        if self.stage == 'warmup' and not self.mixture.needs_target:
            if isinstance(inputs, dict):
                if 'source' not in inputs:
                    raise ValueError(f'a DiGA warm-up batch needs a "source" branch, got '
                                     f'{sorted(inputs)}')
                return Branch(inputs['source'], data_samples['source']), None
            return Branch(inputs, data_samples), None
        if not isinstance(inputs, dict) or 'source' not in inputs:
            raise ValueError('this DiGA stage needs (source, target) batches: the train dataset '
                             'must be a DomainPairDataset with source and target'
                             + ('' if self.stage == 'selftrain' else
                                ' (its translated-view provider reads target images; '
                                'translator=None needs none)'))
        return super().split_batch(inputs, data_samples)

    def mixture_views(self, source: Branch, target: Optional[Branch]):
        """D1: the cross-domain mixture of the source batch (``MixtureViews``)."""
        return self.mixture(source.img, stack_labels(source.samples),
                            None if target is None else target.img, *self._norm())

    def distillation_step(self, source: Branch, views) -> Tuple[Dict[str, Tensor], NetworkOutputs]:
        """D2: supervised CE on the clean source view plus symmetric KD between the two views.

        Returns:
            tuple: the losses (``decode.loss_ce``, ``decode.acc_seg``, ``loss_kd``) and the
            teacher's outputs on ``[x_s; x_mix]`` (for the prototype update).
        """
        b = source.img.shape[0]
        both = torch.cat([source.img, views.mixed])
        student = self.student_forward(both)
        teacher = self.network_outputs(self.teacher, both)
        losses = add_prefix(
            self.student.decode_head.loss_by_feat(student.decoder_logits[:b], source.samples),
            'decode')
        losses[self.distill_loss.loss_name] = self.distill_loss(
            student.logits, teacher.logits, labels=stack_labels(source.samples))
        return losses, teacher

    def pseudo_labels(self, target: Branch) -> PseudoLabels:
        """D5: the offline labels kept where the teacher's nearest prototype agrees."""
        offline = self._dataset_pseudo_labels(target.samples)
        teacher = self.network_outputs(self.teacher, target.img)
        prototypes = self.aux['prototypes']
        if not bool(prototypes.initialized):
            raise RuntimeError('the DiGA prototypes are not initialised: self-training needs '
                               'PrototypeInitHook in default_hooks (or a checkpoint with '
                               'aux.prototypes)')
        pl = self.selector(offline.labels, prototypes.probs(teacher.feats))
        pl.extras.update(teacher_logits=teacher.decoder_logits, teacher_feats=teacher.feats)
        if self.record_pseudo_label_stats:
            # Coverage = the share of target pixels the selection keeps; 'kept' per class = the
            # share of the offline labels of the class that survive (extras['prediction']).
            self.pseudo_label_stats = pseudo_label_stats(pl, self.num_classes, None)
        return pl

    def student_view(self, source: Branch, target: Branch,
                     pseudo_labels: PseudoLabels) -> StudentView:
        """D6: the blended target view ``beta Aug(x_t) + (1 - beta) x_t`` with source classes
        pasted onto it (ClassMix); labels: source labels on pasted pixels, selected elsewhere."""
        img = self.mixture.photometric_view(target.img, *self._norm())
        mixed = self.mixer(source.img, stack_labels(source.samples), img, pseudo_labels.labels,
                           pseudo_labels.weights)
        return StudentView(mixed.img, dataclasses.replace(
            pseudo_labels, labels=mixed.labels, weights=mixed.weights,
            extras=dict(pseudo_labels.extras, mix_mask=mixed.mask)))

    @torch.no_grad()
    def update_prototypes(self, source: Branch, mix_mask: Optional[Tensor],
                          teacher_source: NetworkOutputs, pseudo_labels: PseudoLabels) -> None:
        """D4: EMA updates of the prototypes from the teacher's features.

        ``'target'``: pixels whose selected label equals the teacher's argmax; ``'source'``: the
        mixed source views, pixels whose ground truth equals the teacher's argmax.
        """
        prototypes = self.aux['prototypes']
        if 'target' in self.update_prototypes_from:
            logits = pseudo_labels.extras['teacher_logits']
            prototypes.ema_update(pseudo_labels.extras['teacher_feats'],
                                  _agreeing(pseudo_labels.labels, logits))
        if 'source' in self.update_prototypes_from:
            b = source.img.shape[0]
            prototypes.ema_update(teacher_source.feats[b:],
                                  _agreeing(stack_labels(source.samples),
                                            teacher_source.decoder_logits[b:]))

    # --- prototypes initialisation (called by PrototypeInitHook)
    @torch.no_grad()
    def prototype_init_step(self, img: Tensor) -> None:
        """Add one batch of (preprocessed) target images to the prototype initialisation: the
        :attr:`label_model`'s features, masked by its own argmax (DiGA's ``calc_centroids``)."""
        out = self.network_outputs(self.label_model, img)
        self.aux['prototypes'].accumulate(out.feats, out.decoder_logits.argmax(1))

    # --- helpers
    def map_checkpoint_keys(self, state_dict, prefix=''):
        """Also lets the translated-view provider take its own kind of checkpoint (a
        ``MUNITLite`` checkpoint as ``load_from`` fills ``mixture.translator``)."""
        if self.mixture.translator is not None:
            self.mixture.translator.map_checkpoint_keys(state_dict, prefix,
                                                        f'{prefix}mixture.translator.')
        return super().map_checkpoint_keys(state_dict, prefix)

    @property
    def label_model(self) -> nn.Module:
        """The network of the offline labels and of the prototype initialisation (DiGA: the
        student; ``offline_labels_from='teacher'``: the EMA teacher)."""
        return self.student if self.offline_labels_from == 'student' else self.teacher

    def network_outputs(self, net: nn.Module, img: Tensor) -> NetworkOutputs:
        """``net``'s logits and decode-head features on ``img`` under ``no_grad``, in
        ``teacher_mode`` (train flags restored afterwards)."""
        head = net.decode_head
        if not callable(getattr(head, '_forward_feature', None)):
            raise TypeError(f'DiGA needs a decode head with _forward_feature (ProDAHead); '
                            f'{type(head).__name__} has none')
        with torch.no_grad(), _labelling_mode(net, self.teacher_mode == 'train'):
            feats = head._forward_feature(net.extract_feat(img))
            decoder_logits = head.cls_seg(feats)
        return NetworkOutputs(self._resize_logits(net, decoder_logits, img), decoder_logits, feats)

    def _norm(self) -> Tuple[Tensor, Tensor]:
        return self.data_preprocessor.mean.view(-1), self.data_preprocessor.std.view(-1)


def _agreeing(labels: Tensor, decoder_logits: Tensor) -> Tensor:
    """Labels [B, H, W] brought to the logits' resolution [B, h, w] (nearest), 255 where they
    differ from the argmax of ``decoder_logits`` [B, C, h, w]."""
    small = resize(labels.unsqueeze(1).float(), size=decoder_logits.shape[2:],
                   mode='nearest').squeeze(1).long()
    return small.masked_fill(small != decoder_logits.argmax(1), IGNORE_INDEX)
