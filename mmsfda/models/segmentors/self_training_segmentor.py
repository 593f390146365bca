"""Teacher-student self-training for UDA and source-free DA."""
import re
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..pseudo_labelers import IGNORE_INDEX, PseudoLabels
from ..pseudo_labelers.stats import pseudo_label_stats

# Top-level modules of an mmseg segmentor: a checkpoint whose keys start with these is a plain
# segmentor checkpoint (a source model) and fills both the student and the teacher.
SEGMENTOR_PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head')


def _stack_labels(samples) -> Tensor:
    """The samples' ``gt_sem_seg`` (labels or pseudo-labels) as one [B, H, W] int64 tensor."""
    return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()


@MODELS.register_module()
class SelfTrainingSegmentor(BaseSegmentor):
    """A student trained on target data with labels from a teacher (and, for UDA, on source data).

    The whole step runs in :meth:`loss` (one backward per iteration, so DDP sees an ordinary model):

    1. UDA only: the student's supervised loss on the source batch (``src.*`` losses).
    2. The teacher labels the target batch: probabilities -> ``pseudo_labeler`` -> :class:`PseudoLabels`.
    3. Optionally the ``mixer`` pastes source classes onto the target image and labels (UDA), and
       ``strong_augment`` perturbs the image the student sees.
    4. Every entry of ``target_losses`` is computed on the student's logits (``tgt.*`` losses).

    The teacher is a real submodule (in every checkpoint, so resume is exact): an EMA of the student
    when :class:`MeanTeacherHook` is configured, else the frozen model it was loaded with (the source
    model in SFDA). Loading a plain mmseg segmentor checkpoint fills both student and teacher.

    Args:
        student (dict): Config of any mmseg segmentor (e.g. ``EncoderDecoder``).
        teacher (dict, optional): Config of the teacher. Default: the student's config. Its parameter
            names and shapes must match the student's.
        pseudo_labels_from (str): ``'teacher'``: label each target batch online with the teacher and
            ``pseudo_labeler``; ``'dataset'``: the target samples already carry pseudo-labels as
            ``gt_sem_seg`` (and optional per-pixel ``pseudo_weight``), written by
            :class:`SelfTrainingLoop` between rounds (offline self-training).
        pseudo_labeler (dict, optional): A pseudo-labeler (MODELS). None: target losses get
            ``pseudo_labels=None`` (TENT, SHOT-IM) and the teacher is not run.
        target_losses (list[dict]): Losses ``forward(seg_logits [B,C,H,W], pseudo_labels, **ctx)``
            whose ``loss_name`` starts with ``loss_``.
        mixer (dict, optional): A mixer (e.g. ``ClassMix``), UDA only.
        strong_augment (dict, optional): A tensor-level augmentation of the student's target input.
        setting (str): ``'uda'`` (source and target batches) or ``'sfda'`` (target only; a source batch
            is an error, the run must be source-free).
        teacher_mode (str): ``'train'``: BN layers of the teacher use batch statistics, dropout off
            (DAFormer); ``'eval'``: plain inference mode.
        predict_with (str): ``'student'`` or ``'teacher'``, the model used by :meth:`predict`.
        trainable (str | list[str], optional): Which student parameters adapt. None: all; ``'norm'``:
            the affine parameters of normalisation layers only (TENT); a list of regular expressions
            matched (``re.match``) against parameter names of the student, e.g. ``['backbone\\.']``
            (SHOT: the classifier stays the source hypothesis). Others get ``requires_grad=False``.
        data_preprocessor (dict, optional): Default: the student's. A ``SegDataPreProcessor`` config
            is built as :class:`DomainDataPreProcessor` (same arguments).
    """

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 pseudo_labeler: Optional[dict] = None,
                 pseudo_labels_from: str = 'teacher',
                 target_losses: List[dict] = (),
                 mixer: Optional[dict] = None,
                 strong_augment: Optional[dict] = None,
                 setting: str = 'sfda',
                 teacher_mode: str = 'train',
                 predict_with: str = 'student',
                 trainable: Optional[Union[str, List[str]]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        if setting not in ('uda', 'sfda'):
            raise ValueError(f"setting must be 'uda' or 'sfda', got {setting!r}")
        if teacher_mode not in ('train', 'eval'):
            raise ValueError(f"teacher_mode must be 'train' or 'eval', got {teacher_mode!r}")
        if pseudo_labels_from not in ('teacher', 'dataset'):
            raise ValueError("pseudo_labels_from must be 'teacher' or 'dataset', got "
                             f'{pseudo_labels_from!r}')
        if predict_with not in ('student', 'teacher'):
            raise ValueError(f"predict_with must be 'student' or 'teacher', got {predict_with!r}")
        if setting == 'sfda' and mixer is not None:
            raise ValueError('a mixer needs source images: it cannot be used with setting="sfda"')
        if mixer is not None and pseudo_labeler is None and pseudo_labels_from == 'teacher':
            raise ValueError('a mixer mixes target pseudo-labels: configure a pseudo_labeler')
        student = dict(student)
        # mmengine's runner hands the config's top-level `data_preprocessor` (mmseg base model
        # files define one) to every model; a SegDataPreProcessor config becomes the domain-aware
        # subclass with the same settings, so UDA batches (source + target) are understood.
        data_preprocessor = dict(data_preprocessor or student.get('data_preprocessor') or {})
        if data_preprocessor.get('type', 'SegDataPreProcessor') == 'SegDataPreProcessor':
            data_preprocessor['type'] = 'DomainDataPreProcessor'
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.teacher = MODELS.build(dict(teacher) if teacher is not None else student)
        self._check_same_architecture()
        self.teacher.requires_grad_(False)
        self.set_trainable(trainable)
        self.pseudo_labeler = MODELS.build(pseudo_labeler) if pseudo_labeler else None
        self.target_losses = nn.ModuleList(MODELS.build(cfg) for cfg in target_losses)
        for loss in self.target_losses:
            if not loss.loss_name.startswith('loss_'):
                raise ValueError(f'target loss {type(loss).__name__} has loss_name '
                                 f'{loss.loss_name!r}: it must start with "loss_" to be optimised')
        self.mixer = MODELS.build(mixer) if mixer else None
        self.strong_augment = MODELS.build(strong_augment) if strong_augment else None
        self.setting = setting
        self.pseudo_labels_from = pseudo_labels_from
        self.teacher_mode = teacher_mode
        self.predict_with = predict_with
        self.num_classes = self.student.decode_head.num_classes
        # Per-class pseudo-label statistics of the last step, read by PseudoLabelStatsHook.
        self.pseudo_label_stats: Dict[str, Tensor] = {}

    # ------------------------------------------------------------------ construction and loading
    def _check_same_architecture(self):
        s = {k: tuple(v.shape) for k, v in self.student.state_dict().items()}
        t = {k: tuple(v.shape) for k, v in self.teacher.state_dict().items()}
        for k in sorted(set(s) | set(t)):
            if s.get(k) != t.get(k):
                raise ValueError(
                    f'teacher and student architectures differ at {k!r}: student '
                    f'{s.get(k, "missing")}, teacher {t.get(k, "missing")}. The teacher config must '
                    'build the same network as the student.')

    def set_trainable(self, trainable: Optional[Union[str, List[str]]]) -> List[str]:
        """Set which student parameters train (see ``trainable`` in the class docstring).

        Returns:
            list[str]: Names of the trainable student parameters.
        """
        if trainable is None:
            for p in self.student.parameters():
                p.requires_grad_(True)
            return [n for n, _ in self.student.named_parameters()]
        if trainable == 'norm':
            keep = {id(p) for m in self.student.modules()
                    if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm))
                    for p in m.parameters(recurse=False)}
            selected = [n for n, p in self.student.named_parameters() if id(p) in keep]
        elif isinstance(trainable, (list, tuple)):
            selected = [n for n, _ in self.student.named_parameters()
                        if any(re.match(r, n) for r in trainable)]
        else:
            raise ValueError(f"trainable must be None, 'norm' or a list of regexes, got {trainable!r}")
        if not selected:
            raise ValueError(f'trainable={trainable!r} selects no parameter of the student')
        chosen = set(selected)
        for n, p in self.student.named_parameters():
            p.requires_grad_(n in chosen)
        return selected

    def init_weights(self):
        super().init_weights()
        # Without a checkpoint the teacher starts as a copy of the student (DACS: xi <- theta at t=0).
        self.teacher.load_state_dict(self.student.state_dict())

    def map_checkpoint_keys(self, state_dict, prefix=''):
        """Rewrite a plain segmentor checkpoint's keys to fill ``student`` and ``teacher``.

        ``backbone.x`` becomes ``student.backbone.x`` and ``teacher.backbone.x`` (every top-level
        part of the student: backbone, decode head, a value head ...); a checkpoint of this class
        (keys already under ``student.``/``teacher.``) is returned unchanged. Works in place on
        ``state_dict`` and returns it (also used by :func:`mmsfda.compat.check_state_dict_shapes`).
        """
        parts = set(SEGMENTOR_PARTS) | {n for n, _ in self.student.named_children()}
        plain = [k for k in list(state_dict)
                 if k.startswith(prefix) and k[len(prefix):].split('.', 1)[0] in parts]
        for k in plain:
            v = state_dict.pop(k)
            rest = k[len(prefix):]
            state_dict[f'{prefix}student.{rest}'] = v
            state_dict[f'{prefix}teacher.{rest}'] = v
        return state_dict

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs before the children load: the children then see the rewritten keys.
        self.map_checkpoint_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ the training step
    def loss(self, inputs, data_samples) -> dict:
        src, tgt = self._branches(inputs, data_samples)
        losses = {}
        if src is not None:
            losses.update(add_prefix(self.student.loss(*src), 'src'))
        tgt_img, tgt_samples = tgt
        pseudo_labels = None
        if self.pseudo_labels_from == 'dataset':
            pseudo_labels = self._dataset_pseudo_labels(tgt_samples)
            thresholds = getattr(self.pseudo_labeler, 'thresholds', None)
            if thresholds is not None:  # the offline labeler's class thresholds of this round
                pseudo_labels.extras['thresholds'] = thresholds
            self.pseudo_label_stats = pseudo_label_stats(pseudo_labels, self.num_classes)
        elif self.pseudo_labeler is not None:
            probs, ctx = self.teacher_outputs(tgt_img)
            pseudo_labels = self.pseudo_labeler(probs, data_samples=tgt_samples, **ctx)
            self.pseudo_label_stats = pseudo_label_stats(
                pseudo_labels, self.num_classes, self._target_gt(tgt_samples))
        student_img = tgt_img
        if self.mixer is not None:
            src_label = _stack_labels(src[1])
            mixed = self.mixer(src[0], src_label, tgt_img, pseudo_labels.labels,
                               pseudo_labels.weights)
            student_img = mixed.img
            pseudo_labels = PseudoLabels(mixed.labels, mixed.weights, pseudo_labels.probs,
                                         dict(pseudo_labels.extras, mix_mask=mixed.mask))
        if self.strong_augment is not None:
            # Jitter works on 0-255 images: undo the data preprocessor's normalisation.
            student_img = self.strong_augment(student_img, mean=self.data_preprocessor.mean.view(-1),
                                              std=self.data_preprocessor.std.view(-1))
        logits = self._logits(self.student, student_img)
        for loss in self.target_losses:
            losses[f'tgt.{loss.loss_name}'] = loss(logits, pseudo_labels, data_samples=tgt_samples)
        return losses

    @torch.no_grad()
    def teacher_outputs(self, img: Tensor, metas: Optional[List[dict]] = None
                        ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """What the pseudo-labeler needs from the teacher for a target batch.

        Returns:
            tuple: softmax probabilities [B, C, H, W] at the (padded) input resolution of ``img``,
            and per-image context from the teacher's ``label_context(feats)`` if it has one (e.g.
            ``{'est_ece': [B]}`` of an ECE-estimating segmentor), else ``{}``. ``metas`` is
            accepted for callers that pass a batch's metainfo; the output covers the whole padded
            input either way (crop it with the metas' ``img_shape``).
        """
        self.teacher.train(self.teacher_mode == 'train')
        if self.teacher_mode == 'train':
            # DAFormer: batch-statistics BN, but no stochastic layers in the label maker.
            for m in self.teacher.modules():
                if isinstance(m, nn.modules.dropout._DropoutNd):
                    m.eval()
        feats = self.teacher.extract_feat(img)
        probs = self._resize_logits(self.teacher, self.teacher.decode_head(feats), img).softmax(1)
        context = getattr(self.teacher, 'label_context', None)
        return probs, (context(feats) if callable(context) else {})

    def teacher_probs(self, img: Tensor, metas: Optional[List[dict]] = None) -> Tensor:
        """Teacher softmax probabilities [B, C, H, W], see :meth:`teacher_outputs`."""
        return self.teacher_outputs(img, metas)[0]

    @classmethod
    def _logits(cls, net, img: Tensor) -> Tensor:
        """Logits [B, C, H, W] of ``net`` at the (padded) input resolution of ``img``.

        As mmseg's training path (``decode_head.loss_by_feat``): the decode head's output resized
        to the padded input, where labels and pseudo-label weights live. (``encode_decode`` would
        resize to the unpadded ``img_shape`` of the metas, for inference.)
        """
        return cls._resize_logits(net, net.decode_head(net.extract_feat(img)), img)

    @staticmethod
    def _resize_logits(net, logits: Tensor, img: Tensor) -> Tensor:
        return resize(logits, size=img.shape[2:], mode='bilinear', align_corners=net.align_corners)

    def _branches(self, inputs, data_samples):
        """Split a batch into ``(source or None, target)``, each ``(imgs [B,3,H,W], samples)``."""
        if not isinstance(inputs, dict):  # a plain mmseg batch: target only
            return None, (inputs, data_samples)
        if 'target' not in inputs:
            raise ValueError(f'a training batch needs a "target" branch, got {sorted(inputs)}')
        src = (inputs['source'], data_samples['source']) if 'source' in inputs else None
        if self.setting == 'sfda' and src is not None:
            raise ValueError(
                'setting="sfda" but the training batch holds source data: a source-free config must '
                'not build a source dataset (train_dataloader.dataset.source must be None)')
        if self.setting == 'uda' and src is None:
            raise ValueError('setting="uda" needs source batches: set train_dataloader.dataset.source')
        return src, (inputs['target'], data_samples['target'])

    @staticmethod
    def _dataset_pseudo_labels(samples) -> PseudoLabels:
        """Pseudo-labels the dataset loaded (offline rounds): ``gt_sem_seg``, ``pseudo_weight``."""
        if not all('gt_sem_seg' in s for s in samples):
            raise ValueError('pseudo_labels_from="dataset" but a target sample has no gt_sem_seg: the '
                             'target pipeline must load the round\'s pseudo-label files')
        labels = _stack_labels(samples)
        if all('pseudo_weight' in s for s in samples):
            weights = torch.stack([s.pseudo_weight.data[0] for s in samples]).float()
        else:
            weights = torch.ones_like(labels, dtype=torch.float32)
        return PseudoLabels(labels, weights * (labels != IGNORE_INDEX))

    @staticmethod
    def _target_gt(samples) -> Optional[Tensor]:
        """Target ground truth [B, H, W] when the pipeline loaded it (diagnostics only)."""
        if not all('gt_sem_seg' in s for s in samples):
            return None
        return _stack_labels(samples)

    # ------------------------------------------------------------------ inference
    @property
    def predictor(self):
        return self.student if self.predict_with == 'student' else self.teacher

    @property
    def align_corners(self):
        return self.predictor.align_corners

    def predict(self, inputs, data_samples=None):
        return self.predictor.predict(inputs, data_samples)

    def extract_feat(self, inputs):
        return self.predictor.extract_feat(inputs)

    def encode_decode(self, inputs, batch_img_metas):
        return self.predictor.encode_decode(inputs, batch_img_metas)

    def _forward(self, inputs, data_samples=None):
        return self.predictor._forward(inputs, data_samples)

    @property
    def decode_head(self):
        return self.predictor.decode_head

