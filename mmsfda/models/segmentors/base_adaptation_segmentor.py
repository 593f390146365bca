"""The base of every adaptation method: student, optional teacher, method state, named loss steps."""
import re
from contextlib import contextmanager
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..pseudo_labelers import IGNORE_INDEX, PseudoLabels
from ..pseudo_labelers.stats import pseudo_label_stats
from .adaptation_student import AdaptationStudent
from .student_outputs import StudentOutputs

# Top-level modules of an mmseg segmentor: a checkpoint whose keys start with these is a plain
# segmentor checkpoint (a source model) and fills the student (and the teacher).
SEGMENTOR_PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head')
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
_BASE_MODES = ('loss', 'predict', 'tensor')


class Branch(NamedTuple):
    """One domain's part of a training batch."""
    img: Tensor  # [B, 3, H, W] normalised by the data preprocessor
    samples: list  # B SegDataSample


class StudentView(NamedTuple):
    """What the student trains on in a step: the (mixed, augmented ...) image and its labels."""
    img: Tensor  # [B, 3, H, W]
    pseudo_labels: Optional[PseudoLabels]


#: Top-level keys of an adaptation model's state dict (a plain segmentor checkpoint has none).
ADAPTATION_PARTS = ('student', 'teacher', 'aux')


def plain_state_dict(state_dict: dict, part: str = 'student') -> dict:
    """The ``part`` (``'student'`` or ``'teacher'``) of an adaptation state dict under plain mmseg
    segmentor keys; a plain state dict is returned as it is (a copy)."""
    if not any(k.split('.', 1)[0] in ADAPTATION_PARTS for k in state_dict):
        return dict(state_dict)
    head = part + '.'
    out = {k[len(head):]: v for k, v in state_dict.items() if k.startswith(head)}
    if not out:
        raise ValueError(f'the checkpoint has no {part} weights (keys under {head!r}); its parts: '
                         f'{sorted({k.split(".", 1)[0] for k in state_dict})}')
    return out


def stack_labels(samples) -> Tensor:
    """The samples' ``gt_sem_seg`` (labels or pseudo-labels) as one [B, H, W] int64 tensor."""
    return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()


class BaseAdaptationSegmentor(BaseSegmentor):
    """Teacher-student adaptation with a template training step (mmdet's ``SemiBaseDetector``).

    :meth:`loss` is a short list of named steps; a method overrides the steps it changes::

        source, target = split_batch(inputs, data_samples)
        src_losses, src_out = source_loss(source)            # UDA only, 'src.' losses
        pseudo_labels = pseudo_labels(target)                # teacher (or student) + labeler
        view = student_view(source, target, pseudo_labels)   # mix / translate / mask / augment
        outputs = student_forward(view.img, src_out)         # StudentOutputs
        losses = target_loss(outputs, view.pseudo_labels, target)  # 'tgt.' losses

    Every target loss is called as ``loss(outputs.logits [B,C,H,W], pseudo_labels,
    outputs=outputs, data_samples=target.samples)``: logit losses use the first two arguments,
    feature-level losses read ``outputs`` (:class:`StudentOutputs`). Their ``loss_name`` must start
    with ``loss_``.

    State: ``student`` and ``teacher`` are submodules, and ``aux`` (an ``nn.ModuleDict``) holds the
    method's own modules (projection heads, prototype banks, discriminators), so all of it is in
    every checkpoint and resumes. Loading a plain mmseg segmentor checkpoint fills the student and
    the teacher (:meth:`map_checkpoint_keys`); :meth:`to_plain_state_dict` goes back.

    Training step: :meth:`train_step` is mmengine's, plus (a) the source loss is backpropagated
    before the teacher and the student's target forward (``backward_source_first``), which frees
    the source graph early (DAFormer does the same; under DDP the early backward runs inside the
    wrapper's forward, before DDP arms its gradient hooks, so it is a local accumulation that the
    final backward's all-reduce includes), and (b) a method with several optimisers lists its
    steps in ``optim_steps`` and gets an :class:`OptimWrapperDict`. Under DDP these need
    ``model_wrapper_cfg=dict(type='AdaptationDistributedDataParallel')`` (mmengine's wrapper never
    calls the inner module's ``train_step``); the default runtime sets it.

    Args:
        student (dict): Config of any mmseg segmentor (e.g. ``EncoderDecoder``).
        teacher (dict | bool, optional): None/False: no teacher, pseudo-labels come from the
            student itself under ``no_grad`` (TENT, SHOT, CBST: no idle copy in memory or in
            checkpoints). True: a teacher with the student's architecture (EMA through
            :class:`MeanTeacherHook`, or frozen). A dict: the teacher's own config (same parameter
            names and shapes as the student).
        aux (dict, optional): ``name -> config`` of the method's modules, built into ``self.aux``.
        pseudo_labeler (dict, optional): A pseudo-labeler (MODELS). None: target losses get
            ``pseudo_labels=None`` (TENT, SHOT-IM) and no labelling forward runs.
        pseudo_labels_from (str): ``'teacher'``: label each target batch online; ``'dataset'``:
            the target samples carry offline pseudo-labels as ``gt_sem_seg`` (and optional
            ``pseudo_weight``), written by :class:`SelfTrainingLoop` between rounds.
        target_losses (list[dict]): The target losses (see above).
        setting (str): ``'uda'`` (source and target batches) or ``'sfda'`` (target only).
        teacher_mode (str): Mode of the labelling forward. ``'train'``: BN layers use batch
            statistics, dropout off (DAFormer); ``'eval'``: plain inference.
        predict_with (str): ``'student'`` or ``'teacher'``, the model used by :meth:`predict`.
        trainable (str | list[str], optional): Which student parameters adapt, see
            :meth:`set_trainable`.
        decoder_features (bool): Fill ``StudentOutputs.decoder_feats`` (needs a decode head with
            ``_forward_feature``, as mmseg's ASPP/FCN/PSP/UPer heads). Defaults to False.
        backward_source_first (bool): Backpropagate the source loss before the target steps when
            :meth:`train_step` runs the step. Defaults to True.
        diagnostics_use_target_gt (bool): Let the pseudo-label statistics read target ground truth
            (pseudo-label accuracy) when the target pipeline loads it. Training never reads it;
            this is the only switch that lets diagnostics do so. Defaults to False.
        data_preprocessor (dict, optional): Default: the student's. A ``SegDataPreProcessor``
            config is built as :class:`DomainDataPreProcessor` (same arguments).
    """

    #: ``(optimiser wrapper name, forward mode)`` per optimiser step, for methods trained with an
    #: ``OptimWrapperDict`` (e.g. ``(('student', 'loss'), ('discriminator', 'discriminator_loss'))``).
    #: Each extra mode is a method of the subclass taking ``(inputs, data_samples)``.
    optim_steps: Tuple[Tuple[str, str], ...] = ()
    #: Read by :class:`AdaptationDistributedDataParallel`: call this model's :meth:`train_step`.
    runs_own_train_step = True

    def __init__(self,
                 student: dict,
                 teacher: Union[dict, bool, None] = None,
                 aux: Optional[Dict[str, dict]] = None,
                 pseudo_labeler: Optional[dict] = None,
                 pseudo_labels_from: str = 'teacher',
                 target_losses: Sequence[dict] = (),
                 setting: str = 'sfda',
                 teacher_mode: str = 'train',
                 predict_with: str = 'student',
                 trainable: Optional[Union[str, List[str]]] = None,
                 decoder_features: bool = False,
                 backward_source_first: bool = True,
                 diagnostics_use_target_gt: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        _check_choice('setting', setting, ('uda', 'sfda'))
        _check_choice('teacher_mode', teacher_mode, ('train', 'eval'))
        _check_choice('pseudo_labels_from', pseudo_labels_from, ('teacher', 'dataset'))
        _check_choice('predict_with', predict_with, ('student', 'teacher'))
        if not (teacher is None or isinstance(teacher, (bool, dict))):
            raise TypeError(f'teacher must be None, a bool or a config dict, got {teacher!r}')
        if predict_with == 'teacher' and not teacher:
            raise ValueError("predict_with='teacher' needs a teacher (teacher=True or a config)")
        student = dict(student)
        # mmengine's runner hands the config's top-level `data_preprocessor` (mmseg base model
        # files define one) to every model; a SegDataPreProcessor config becomes the domain-aware
        # subclass with the same settings, so UDA batches (source + target) are understood.
        data_preprocessor = dict(data_preprocessor or student.get('data_preprocessor') or {})
        if data_preprocessor.get('type', 'SegDataPreProcessor') == 'SegDataPreProcessor':
            data_preprocessor['type'] = 'DomainDataPreProcessor'
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        # What the model config froze (e.g. norm_cfg.requires_grad=False): never trained.
        self.frozen_parameters = frozenset(
            n for n, p in self.student.named_parameters() if not p.requires_grad)
        self.teacher = None
        if teacher:
            self.teacher = MODELS.build(student if teacher is True else dict(teacher))
            self._check_same_architecture()
            self.teacher.requires_grad_(False)
        self.aux = nn.ModuleDict({k: MODELS.build(v) for k, v in (aux or {}).items()})
        self.pseudo_labeler = MODELS.build(pseudo_labeler) if pseudo_labeler else None
        self.target_losses = nn.ModuleList(MODELS.build(cfg) for cfg in target_losses)
        for loss in self.target_losses:
            if not loss.loss_name.startswith('loss_'):
                raise ValueError(f'target loss {type(loss).__name__} has loss_name '
                                 f'{loss.loss_name!r}: it must start with "loss_" to be optimised')
        self.setting = setting
        self.pseudo_labels_from = pseudo_labels_from
        self.teacher_mode = teacher_mode
        self.predict_with = predict_with
        self.decoder_features = decoder_features
        self.backward_source_first = backward_source_first
        self.diagnostics_use_target_gt = diagnostics_use_target_gt
        self.num_classes = self.student.decode_head.num_classes
        self.set_trainable(trainable)
        # Per-class pseudo-label statistics of the last step, computed only while
        # `record_pseudo_label_stats` is set (PseudoLabelStatsHook sets it on logging iterations).
        self.record_pseudo_label_stats = False
        self.pseudo_label_stats: Dict[str, Tensor] = {}
        # The optimiser wrapper of the running train_step (for the early source backward).
        self._optim_wrapper: Optional[OptimWrapper] = None

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
        """Choose which student parameters train; the others get ``requires_grad=False``.

        Parameters the model config froze (``frozen_parameters``, e.g. BN affine parameters with
        ``norm_cfg.requires_grad=False``) stay frozen whatever is asked.

        Args:
            trainable (str | list[str], optional): None: all; ``'norm'``: the affine parameters
                of normalisation layers (TENT); a list of regular expressions matched
                (``re.match``) against student parameter names, e.g. ``['backbone\\.']`` (SHOT).

        Returns:
            list[str]: Names of the trainable student parameters.
        """
        named = list(self.student.named_parameters())
        if trainable is None:
            selected = [n for n, _ in named]
        elif trainable == 'norm':
            keep = {id(p) for m in self.student.modules() if isinstance(m, _NORMS)
                    for p in m.parameters(recurse=False)}
            selected = [n for n, p in named if id(p) in keep]
        elif isinstance(trainable, (list, tuple)):
            selected = [n for n, _ in named if any(re.match(r, n) for r in trainable)]
        else:
            raise ValueError(f"trainable must be None, 'norm' or a list of regexes, got {trainable!r}")
        chosen = set(selected) - self.frozen_parameters
        if not chosen and trainable is not None:
            raise ValueError(f'trainable={trainable!r} selects no trainable parameter of the student'
                             + (' (all it selects are frozen by the model config)' if selected
                                else ''))
        for n, p in named:
            p.requires_grad_(n in chosen)
        return [n for n, _ in named if n in chosen]

    def init_weights(self):
        super().init_weights()
        if self.teacher is not None:
            # Without a checkpoint the teacher starts as a copy of the student (DACS: xi <- theta).
            self.teacher.load_state_dict(self.student.state_dict())

    def map_checkpoint_keys(self, state_dict, prefix=''):
        """Rewrite a plain segmentor checkpoint's keys to fill ``student`` (and ``teacher``).

        ``backbone.x`` becomes ``student.backbone.x`` and, with a teacher, ``teacher.backbone.x``
        (every top-level part of the student: backbone, decode head, a value head ...). Keys of
        this class (under ``student.``/``teacher.``/``aux.``) are left as they are, except that a
        checkpoint of a teacher-less stage (``student.`` keys, no ``teacher.`` key: an offline
        self-training round, ATP's Align or Teach) also fills the teacher, buffers included, so an
        EMA teacher starts as the loaded model and not as the network's initialisation. Works in
        place on ``state_dict`` and returns it (also used by :mod:`mmsfda.compat`'s load-time
        checks).
        """
        parts = set(SEGMENTOR_PARTS) | {n for n, _ in self.student.named_children()}
        targets = ['student'] + (['teacher'] if self.teacher is not None else [])
        plain = [k for k in list(state_dict)
                 if k.startswith(prefix) and k[len(prefix):].split('.', 1)[0] in parts]
        for k in plain:
            v = state_dict.pop(k)
            for t in targets:
                state_dict[f'{prefix}{t}.{k[len(prefix):]}'] = v
        student, teacher = f'{prefix}student.', f'{prefix}teacher.'
        if self.teacher is not None and not any(k.startswith(teacher) for k in state_dict):
            for k in [k for k in state_dict if k.startswith(student)]:
                state_dict[teacher + k[len(student):]] = state_dict[k]
        return state_dict

    def to_plain_state_dict(self, state_dict: Optional[dict] = None, part: str = 'student') -> dict:
        """The ``student`` (or ``teacher``) weights under plain mmseg segmentor keys.

        The inverse of :meth:`map_checkpoint_keys`: the result loads into the student's config
        with mmseg's own tools (publishing, ``tools/test.py`` with a plain model config).

        Args:
            state_dict (dict, optional): A state dict of this class; default: the model's own.
            part (str): ``'student'`` or ``'teacher'``.
        """
        _check_choice('part', part, ('student', 'teacher'))
        if part == 'teacher' and self.teacher is None:
            raise ValueError('this model has no teacher')
        return plain_state_dict(self.state_dict() if state_dict is None else state_dict, part)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs before the children load: the children then see the rewritten keys.
        self.map_checkpoint_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ the training step
    def train_step(self, data, optim_wrapper, ddp=None) -> Dict[str, Tensor]:
        """One iteration: mmengine's ``BaseModel.train_step`` plus the early source backward.

        Args:
            data (dict): A batch from the dataloader.
            optim_wrapper (OptimWrapper | OptimWrapperDict): The runner's optimiser wrapper(s).
            ddp (nn.Module, optional): The distributed wrapper when run under
                :class:`AdaptationDistributedDataParallel`; every forward goes through it so
                that DDP synchronises gradients.
        """
        forward = self if ddp is None else ddp
        if isinstance(optim_wrapper, OptimWrapperDict):
            return self._multi_optim_step(data, optim_wrapper, forward)
        self._optim_wrapper = optim_wrapper
        try:
            with optim_wrapper.optim_context(forward):
                data = self.data_preprocessor(data, True)
                losses = forward(**data, mode='loss')
        finally:
            self._optim_wrapper = None
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def _multi_optim_step(self, data, optim_wrapper: OptimWrapperDict, forward):
        if not self.optim_steps:
            raise TypeError(f'{type(self).__name__} got an OptimWrapperDict ({list(optim_wrapper.keys())})'
                            ' but declares no optim_steps: configure one optim_wrapper')
        data = self.data_preprocessor(data, True)
        log_vars = {}
        for i, (name, mode) in enumerate(self.optim_steps):
            if name not in optim_wrapper:
                raise KeyError(f'optim_steps names the optimiser {name!r}, the config has '
                               f'{list(optim_wrapper.keys())}')
            ow = optim_wrapper[name]
            if ow._accumulative_counts != 1:
                raise ValueError('gradient accumulation is not supported with several optimisers')
            # Gradients an earlier step's loss left on these parameters (e.g. the discriminator's
            # from the segmenter's adversarial term) are not this step's.
            ow.zero_grad()
            with ow.optim_context(forward):
                losses = forward(**data, mode=mode)
            parsed, step_vars = self.parse_losses(losses)
            ow.update_params(parsed)
            if i:
                step_vars[f'loss_{name}'] = step_vars.pop('loss')
            log_vars.update(step_vars)
        return log_vars

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """mmseg's modes, plus the extra modes of ``optim_steps`` (so that DDP runs them)."""
        if mode in _BASE_MODES:
            return super().forward(inputs, data_samples, mode)
        if mode not in {m for _, m in self.optim_steps}:
            raise RuntimeError(f'invalid mode {mode!r}: {type(self).__name__} has '
                               f'{list(_BASE_MODES) + [m for _, m in self.optim_steps]}')
        return getattr(self, mode)(inputs, data_samples)

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        source, target = self.split_batch(inputs, data_samples)
        losses = {}
        source_outputs = None
        if source is not None:
            src_losses, source_outputs = self.source_loss(source)
            if source_outputs is None:  # nothing downstream holds the source graph
                src_losses = self._backward_now(src_losses)
            losses.update(add_prefix(src_losses, 'src'))
        pseudo_labels = self.pseudo_labels(target)
        view = self.student_view(source, target, pseudo_labels)
        outputs = self.student_forward(view.img, source_outputs)
        losses.update(add_prefix(self.target_loss(outputs, view.pseudo_labels, target), 'tgt'))
        return losses

    # --- the named steps
    def split_batch(self, inputs, data_samples) -> Tuple[Optional[Branch], Branch]:
        """Split a batch into ``(source or None, target)``."""
        if not isinstance(inputs, dict):  # a plain mmseg batch: target only
            return None, Branch(inputs, data_samples)
        if 'target' not in inputs:
            raise ValueError(f'a training batch needs a "target" branch, got {sorted(inputs)}')
        source = Branch(inputs['source'], data_samples['source']) if 'source' in inputs else None
        if self.setting == 'sfda' and source is not None:
            raise ValueError(
                'setting="sfda" but the training batch holds source data: a source-free config must '
                'not build a source dataset (train_dataloader.dataset.source must be None)')
        if self.setting == 'uda' and source is None:
            raise ValueError('setting="uda" needs source batches: set train_dataloader.dataset.source')
        return source, Branch(inputs['target'], data_samples['target'])

    def source_loss(self, source: Branch) -> Tuple[Dict[str, Tensor], Optional[StudentOutputs]]:
        """The student's supervised loss on the source batch (mmseg's own ``loss``).

        Returns:
            tuple: the losses, and the source :class:`StudentOutputs` when a method keeps them for
            a later step (None here: the source graph can be freed at once).
        """
        return self.student.loss(source.img, source.samples), None

    def supervised_outputs(self, img: Tensor, samples) -> Tuple[Dict[str, Tensor], StudentOutputs]:
        """mmseg's supervised loss of the student (decode and auxiliary heads) and its outputs.

        The same losses as ``EncoderDecoder.loss`` (``decode.*``, ``aux.*``), computed from one
        forward whose outputs are kept, for methods that need the source features or logits
        (discriminators, feature distance). ``StudentOutputs.backbone_feats`` are the backbone's
        own outputs (before any neck).
        """
        net = self.student
        if isinstance(net, AdaptationStudent):  # e.g. HRDA: its own multi-resolution forward
            return net.supervised_adaptation_outputs(img, samples)
        backbone_feats = net.backbone(img)
        feats = net.neck(backbone_feats) if net.with_neck else backbone_feats
        logits = net.decode_head(feats)
        losses = add_prefix(net.decode_head.loss_by_feat(logits, samples), 'decode')
        aux_logits = None
        if net.with_auxiliary_head:
            if isinstance(net.auxiliary_head, nn.ModuleList):
                raise TypeError('supervised_outputs supports one auxiliary head')
            aux_logits = net.auxiliary_head(feats)
            losses.update(add_prefix(net.auxiliary_head.loss_by_feat(aux_logits, samples), 'aux'))
        return losses, StudentOutputs(self._resize_logits(net, logits, img), logits,
                                      tuple(backbone_feats), aux_logits=aux_logits,
                                      backbone_input=img)

    def pseudo_labels(self, target: Branch) -> Optional[PseudoLabels]:
        """Pseudo-labels of the target batch (online from the teacher, or the dataset's)."""
        if self.pseudo_labels_from == 'dataset':
            pl = self._dataset_pseudo_labels(target.samples)
        elif self.pseudo_labeler is None:
            return None
        else:
            probs, context = self.teacher_outputs(target.img)
            valid = self._loader_valid_mask(target.samples)
            if valid is not None:
                context = dict(context, valid_mask=valid)
            pl = self.pseudo_labeler(probs, data_samples=target.samples, **context)
        if self.record_pseudo_label_stats:
            gt = self._target_gt(target.samples) if self.diagnostics_use_target_gt else None
            self.pseudo_label_stats = pseudo_label_stats(pl, self.num_classes, gt)
        return pl

    def student_view(self, source: Optional[Branch], target: Branch,
                     pseudo_labels: Optional[PseudoLabels]) -> StudentView:
        """The image the student trains on and its labels: the target batch as it is."""
        return StudentView(target.img, pseudo_labels)

    def student_forward(self, img: Tensor,
                        source_outputs: Optional[StudentOutputs] = None) -> StudentOutputs:
        """The student's forward pass on ``img`` [B, 3, H, W] (with gradients)."""
        net = self.student
        if isinstance(net, AdaptationStudent):  # e.g. HRDA: context + detail views
            if self.decoder_features:
                raise TypeError(f'decoder_features=True is not supported with the student '
                                f'{type(net).__name__}, whose forward is its own')
            outputs = net.adaptation_outputs(img)
            outputs.source = source_outputs
            return outputs
        feats = net.extract_feat(img)
        head = net.decode_head
        decoder_feats = None
        if self.decoder_features:
            if not callable(getattr(head, '_forward_feature', None)):
                raise TypeError(f'decoder_features=True needs a decode head with _forward_feature;'
                                f' {type(head).__name__} has none')
            decoder_feats = head._forward_feature(feats)
            decoder_logits = head.cls_seg(decoder_feats)
        else:
            decoder_logits = head(feats)
        return StudentOutputs(
            logits=self._resize_logits(net, decoder_logits, img), decoder_logits=decoder_logits,
            backbone_feats=tuple(feats), decoder_feats=decoder_feats, source=source_outputs,
            backbone_input=img)

    def target_loss(self, outputs: StudentOutputs, pseudo_labels: Optional[PseudoLabels],
                    target: Branch) -> Dict[str, Tensor]:
        """Every configured target loss (see the class docstring for the call).

        A student with several predictions (``outputs.views``, e.g. HRDA's detail crop) is
        trained on each: the losses of ``outputs.logits`` are scaled by ``outputs.loss_weight``,
        and every view gets every loss with the pseudo-labels cropped to its box, scaled by its
        weight, under ``<view name>.<loss_name>``.
        """
        losses = {}
        for loss in self.target_losses:
            value = loss(outputs.logits, pseudo_labels, outputs=outputs,
                         data_samples=target.samples)
            losses[loss.loss_name] = value if outputs.loss_weight == 1 else \
                outputs.loss_weight * value
        for view in outputs.views:
            cropped = None if pseudo_labels is None else crop_pseudo_labels(pseudo_labels,
                                                                            view.box)
            for loss in self.target_losses:
                losses[f'{view.name}.{loss.loss_name}'] = view.weight * loss(
                    view.logits, cropped, outputs=outputs, data_samples=target.samples)
        return losses

    # --- helpers of the steps
    def _backward_now(self, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Backpropagate ``losses`` at once and return them detached (for logging).

        Only inside :meth:`train_step` (which hands over the optimiser wrapper: loss scaling for
        AMP and accumulation) and when target losses follow (their backward does the step).
        """
        ow = self._optim_wrapper
        if ow is None or not self.backward_source_first or not len(self.target_losses):
            return losses
        parsed, _ = self.parse_losses(losses)
        ow.backward(ow.scale_loss(parsed))
        ow._inner_count -= 1  # one optimiser step, one count: update_params counts the second
        return {k: ([x.detach() for x in v] if isinstance(v, list) else v.detach())
                for k, v in losses.items()}

    @property
    def label_model(self) -> nn.Module:
        """The network that makes pseudo-labels: the teacher, or the student without one."""
        return self.teacher if self.teacher is not None else self.student

    @torch.no_grad()
    def teacher_outputs(self, img: Tensor, metas: Optional[List[dict]] = None
                        ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """What the pseudo-labeler needs for a target batch, from :attr:`label_model`.

        Runs in ``teacher_mode`` (the modules' train/eval flags are restored afterwards).

        Returns:
            tuple: softmax probabilities [B, C, H, W] at the (padded) input resolution of ``img``,
            and per-image context from the label model's ``label_context(feats, seg_logits=...)``
            if it has one (e.g. ``{'est_ece': [B]}`` of an ECE-estimating segmentor; it gets the
            decode head's logits of this pass, so the decoder runs once), else ``{}``. ``metas`` is
            accepted for callers that pass a batch's metainfo; the output covers the whole padded
            input either way (crop it with the metas' ``img_shape``).
        """
        net = self.label_model
        with _labelling_mode(net, self.teacher_mode == 'train'):
            if isinstance(net, AdaptationStudent):  # e.g. HRDA: sliding multi-resolution labels
                return net.label_logits(img).softmax(1), {}
            feats = net.extract_feat(img)
            logits = net.decode_head(feats)
            probs = self._resize_logits(net, logits, img).softmax(1)
            context = getattr(net, 'label_context', None)
            return probs, (context(feats, seg_logits=logits) if callable(context) else {})

    def teacher_probs(self, img: Tensor, metas: Optional[List[dict]] = None) -> Tensor:
        """Probabilities [B, C, H, W] of :attr:`label_model`, see :meth:`teacher_outputs`."""
        return self.teacher_outputs(img, metas)[0]

    @staticmethod
    def _resize_logits(net, logits: Tensor, img: Tensor) -> Tensor:
        # As mmseg's training path (loss_by_feat): to the padded input, where labels live.
        return resize(logits, size=img.shape[2:], mode='bilinear', align_corners=net.align_corners)

    @staticmethod
    def _loader_valid_mask(samples) -> Optional[Tensor]:
        """[B, H, W] bool, the pixels the loader allows to pseudo-label (``valid_pseudo_mask`` of
        :class:`PseudoLabelMargins`, HRDA's margins cropped with the image), or None."""
        if not samples or not all('valid_pseudo_mask' in s for s in samples):
            return None
        return torch.stack([s.valid_pseudo_mask.data[0] for s in samples]) > 0

    def _dataset_pseudo_labels(self, samples) -> PseudoLabels:
        """Pseudo-labels the dataset loaded (offline rounds): ``gt_sem_seg``, ``pseudo_weight``."""
        if not all('gt_sem_seg' in s for s in samples):
            raise ValueError('pseudo_labels_from="dataset" but a target sample has no gt_sem_seg: the '
                             'target pipeline must load the round\'s pseudo-label files')
        labels = stack_labels(samples)
        if all('pseudo_weight' in s for s in samples):
            weights = torch.stack([s.pseudo_weight.data[0] for s in samples]).float()
        else:
            weights = torch.ones_like(labels, dtype=torch.float32)
        return PseudoLabels(labels, weights * (labels != IGNORE_INDEX),
                            thresholds=self._round_thresholds())

    def _round_thresholds(self) -> Optional[Tensor]:
        """[C] class thresholds of the offline labeler's current round, or None."""
        return self.pseudo_labeler.thresholds if self.pseudo_labeler is not None and hasattr(
            self.pseudo_labeler, 'thresholds') else None

    @staticmethod
    def _target_gt(samples) -> Optional[Tensor]:
        """Target ground truth [B, H, W] when the pipeline loaded it (diagnostics only)."""
        if not all('gt_sem_seg' in s for s in samples):
            return None
        return stack_labels(samples)

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


def crop_pseudo_labels(pseudo_labels: PseudoLabels,
                       box: Tuple[int, int, int, int]) -> PseudoLabels:
    """``pseudo_labels`` cropped to ``box = (y1, y2, x1, x2)``: labels, weights, probs and every
    extra whose last two dimensions are the labels' [H, W] (others are kept as they are)."""
    y1, y2, x1, x2 = box
    size = tuple(pseudo_labels.labels.shape[-2:])

    def crop(x):
        if isinstance(x, Tensor) and x.dim() >= 2 and tuple(x.shape[-2:]) == size:
            return x[..., y1:y2, x1:x2]
        return x

    return PseudoLabels(labels=crop(pseudo_labels.labels), weights=crop(pseudo_labels.weights),
                        probs=crop(pseudo_labels.probs),
                        extras={k: crop(v) for k, v in pseudo_labels.extras.items()},
                        thresholds=pseudo_labels.thresholds)


def _check_choice(name: str, value, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {list(choices)}, got {value!r}')


@contextmanager
def _labelling_mode(net: nn.Module, batch_stats: bool):
    """Put ``net`` in the labelling mode and restore every module's train flag afterwards.

    ``batch_stats``: BN uses batch statistics (train mode) but dropout / drop path are off
    (DAFormer's teacher); else plain eval mode.
    """
    flags = [(m, m.training) for m in net.modules()]
    net.train(batch_stats)
    if batch_stats:
        for m in net.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd) or type(m).__name__ == 'DropPath':
                m.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag
