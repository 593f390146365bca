"""T2S-DA: pull target-like features towards source class prototypes (on DAFormer), and its DG form."""
import copy
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..heads.class_performance_tracker import class_accuracy, class_iou, class_mean
from ..pseudo_labelers import IGNORE_INDEX, PseudoLabels
from .adaptation_student import AdaptationStudent
from .base_adaptation_segmentor import Branch, _labelling_mode, stack_labels
from .daformer_segmentor import DAFormerSegmentor
from .student_outputs import StudentOutputs

#: Per-class scores the dynamic re-weighting can track (see ``reweight_score``).
REWEIGHT_SCORES = ('source_iou', 'source_accuracy', 'target_confidence', 'contrastive_accuracy')
STYLE_FROM = ('target', 'source', None)
SOURCE_LOSS_VIEWS = ('pseudo_target', 'clean')


class KeyPools(NamedTuple):
    """What one step's contrastive terms share: prototypes, negative pools and class weights."""
    prototypes: Tensor  # [C, D]
    prototype_valid: Tensor  # [C] bool
    source: Tuple[Tensor, Tensor]  # keys [Ns, D], labels [Ns]
    target: Tuple[Tensor, Tensor]  # keys [Nt, D], labels [Nt]
    class_weights: Optional[Tensor]  # [C] or None


def nearest_labels(labels: Tensor, size) -> Tensor:
    """[B, H, W] int labels (or bool masks) -> [B, h, w] by nearest-neighbour sampling."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    dtype = labels.dtype
    out = F.interpolate(labels.unsqueeze(1).float(), size=tuple(size), mode='nearest')[:, 0]
    return out.to(dtype)


def feature_head(net):
    """The single-scale decode head whose ``_forward_feature`` gives the embedded feature: the
    student's decode head, or the one an HRDA head runs on each view (``decode_head.head``)."""
    head = net.decode_head
    return head.head if isinstance(net, AdaptationStudent) else head


def pixels(emb: Tensor) -> Tensor:
    """[B, D, h, w] -> [B*h*w, D] (pixel-major, matching ``labels.flatten()`` of [B, h, w])."""
    return emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1])


@MODELS.register_module()
class T2SDASegmentor(DAFormerSegmentor):
    """T2S-DA (Wang et al., IJCV 2024, arXiv:2305.13752) on top of DAFormer.

    One step, in order (:meth:`loss`):

    1. the EMA teacher labels the target batch (DAFormer); its decoder features at the target
       pixels whose confidence is below ``reliable_threshold`` become the target negative keys
       (through the key projection head), labelled by their pseudo-label;
    2. the *pseudo-target view* of the source batch: ``pseudo_target`` (FDA with the target batch's
       amplitude, ``style_from='target'``) renders each source image in a target image's style;
       its labels are the source labels (paper, Fig. 2; None: the clean source image);
    3. the student's supervised loss (and DAFormer's feature distance) is taken on that view, and
       the same forward's decoder features, projected by ``aux.projection``, are the queries
       (labelled by the source ground truth at feature resolution; with
       ``source_loss_view='clean'`` the supervised loss is taken on the clean source, as DAFormer
       does, and the queries come from one more student forward of the view); the teacher's
       decoder features of the *clean* source, through ``aux.key_projection`` (an EMA of the
       projection head, ``key_momentum``), are the keys: they update the class prototypes
       (``aux.t2s_memory``) and are the source negatives; the :class:`T2SContrastiveLoss`
       (``src.loss_t2s``) is backpropagated with the source loss;
    4. DAFormer's ClassMix step on the target; with ``target_queries`` the student's features of
       the mixed image at reliable target pixels (teacher confidence >= ``reliable_threshold``,
       not pasted from the source) are extra queries (``tgt.loss_t2s``, weight
       ``target_query_weight``) against the same prototypes and negatives.

    Dynamic re-weighting (``reweighting``, a :class:`ClassPerformanceTracker`): the per-class
    weights come from the running score chosen by ``reweight_score`` (``'source_iou'``: the
    student's IoU on the query images against the source labels; ``'source_accuracy'``;
    ``'target_confidence'``: the teacher's mean confidence per pseudo-class; ``'contrastive_accuracy'``:
    the share of a class's queries whose positive beats all negatives); the weights of a step are
    those before the step's scores are folded in.

    The reconstruction choices (widths, tau, N_q, N_k, momenta, the score) are arguments; the
    method's README lists them. The computation over pixels is vectorised (see the loss).

    On HRDA (an :class:`AdaptationStudent` student such as ``HRDAEncoderDecoder``): the supervised
    loss is HRDA's (fused + detail crop) on the pseudo-target view, and the embedded feature is the
    single-scale decoder's fused feature of the **context** view (``extract_feat``'s features, the
    ones DAFormer's feature distance uses), computed by one more pass of that decoder over the
    context features of the same forward (student) or of ``extract_feat`` (teacher keys, target
    keys beside HRDA's sliding-window pseudo-labels, and the mixed image's target queries).

    Args:
        t2s_loss (dict): A ``T2SContrastiveLoss`` config (its ``loss_weight`` is lambda_T2S).
        projection (dict): A ``PixelProjectionHead`` config; ``in_channels`` defaults to the
            decode head's ``channels`` (its fused feature).
        memory (dict): ``ClassFeatureMemory`` arguments (``prototype_momentum``, ``queue_size``,
            ``queue_push``); ``num_classes`` and ``channels`` are filled in.
        reweighting (dict, optional): ``ClassPerformanceTracker`` arguments (``momentum``,
            ``gamma``); None: no re-weighting.
        reweight_score (str): One of ``REWEIGHT_SCORES``. Defaults to ``'source_iou'``.
        pseudo_target (dict, optional): The translation making the pseudo-target view: an ``FDA``
            config (called with a style image), or with ``style_from=None`` any augmentation
            called as ``aug(img, mean=, std=)`` (e.g. ``StrongAugment``). None: no view, the
            queries come from the clean source.
        style_from (str, optional): Where the style image comes from: ``'target'`` (image
            ``i % B_t`` of the target batch), ``'source'`` (another image of the source batch:
            the batch rolled by one) or None (no style image).
        key_momentum (float): EMA momentum of the key projection head, in [0, 1]; 0: the keys use
            the student's projection head (under no_grad). Defaults to 0.999.
        reliable_threshold (float): Teacher confidence splitting reliable (query) from unreliable
            (negative) target pixels. Defaults to 0.968 (DACS' threshold).
        target_queries (bool): Add reliable target pixels of the mixed image as queries.
        target_query_weight (float): Weight of ``tgt.loss_t2s``. Defaults to 1.0.
        source_loss_view (str): Which source image the supervised loss (and feature distance) is
            taken on: ``'pseudo_target'`` (default: the view, whose forward also gives the queries)
            or ``'clean'`` (the source image, as DAFormer; the queries then need one more student
            forward and backward of the view). The same without a pseudo-target view.
        key_interval (int): The teacher's forward of the clean source (the keys: prototype update
            and source negatives) runs on every ``key_interval``-th step; on the others the
            prototypes are the memory's and the source negatives its queue, so a value above 1
            needs ``memory.queue_size > 0``. 1 (default): every step, as in the paper. The forward
            is most of the loss's cost (configs/t2sda/README.md, "Step cost").
        **kwargs: See :class:`DAFormerSegmentor`.
    """

    def __init__(self,
                 t2s_loss: dict,
                 projection: dict,
                 memory: Optional[dict] = None,
                 reweighting: Optional[dict] = None,
                 reweight_score: str = 'source_iou',
                 pseudo_target: Optional[dict] = dict(type='FDA', beta=0.01),
                 style_from: Optional[str] = 'target',
                 key_momentum: float = 0.999,
                 reliable_threshold: float = 0.968,
                 target_queries: bool = True,
                 target_query_weight: float = 1.0,
                 key_interval: int = 1,
                 source_loss_view: str = 'pseudo_target',
                 **kwargs):
        if reweight_score not in REWEIGHT_SCORES:
            raise ValueError(f'reweight_score must be one of {REWEIGHT_SCORES}, got '
                             f'{reweight_score!r}')
        if style_from not in STYLE_FROM:
            raise ValueError(f'style_from must be one of {STYLE_FROM}, got {style_from!r}')
        if not 0 <= key_momentum <= 1:
            raise ValueError(f'key_momentum must be in [0, 1], got {key_momentum}')
        if source_loss_view not in SOURCE_LOSS_VIEWS:
            raise ValueError(f'source_loss_view must be one of {SOURCE_LOSS_VIEWS}, got '
                             f'{source_loss_view!r}')
        if key_interval < 1:
            raise ValueError(f'key_interval must be >= 1, got {key_interval}')
        if key_interval > 1 and not (memory or {}).get('queue_size'):
            raise ValueError(f'key_interval={key_interval} takes the source negatives of the steps '
                             'without a teacher forward from the memory\'s queue: set '
                             'memory.queue_size > 0')
        if not kwargs.get('teacher'):
            raise ValueError('T2S-DA takes its keys from an EMA teacher: set teacher=True')
        student_cls = MODELS.get(dict(kwargs.get('student', {})).get('type', ''))
        multi_view = isinstance(student_cls, type) and issubclass(student_cls, AdaptationStudent)
        if target_queries and not multi_view:
            kwargs['decoder_features'] = True  # the mixed view's features are queries
        super().__init__(**kwargs)
        net = self.student
        head = feature_head(net)
        if not callable(getattr(head, '_forward_feature', None)):
            raise TypeError(f'T2S-DA projects the decoder\'s fused feature: the decode head '
                            f'{type(head).__name__} has no _forward_feature')
        if getattr(net, 'with_auxiliary_head', False):
            raise TypeError('T2S-DA\'s source step supports students without an auxiliary head')
        projection = dict(projection)
        projection.setdefault('in_channels', head.channels)
        self.aux['projection'] = MODELS.build(projection)
        self.aux['key_projection'] = copy.deepcopy(self.aux['projection']).requires_grad_(False)
        self.aux['t2s_memory'] = MODELS.build(dict(
            type='ClassFeatureMemory', **(memory or {}), num_classes=self.num_classes,
            channels=self.aux['projection'].out_channels))
        if reweighting is not None:
            self.aux['t2s_reweighting'] = MODELS.build(dict(
                type='ClassPerformanceTracker', **reweighting, num_classes=self.num_classes))
        self.t2s_loss = MODELS.build(t2s_loss)
        if self.t2s_loss.negative_domains != 'source' and self.setting != 'uda':
            raise ValueError('target negatives need target data: negative_domains must be '
                             '"source" without a target branch')
        self.reweight_score = reweight_score
        self.pseudo_target = MODELS.build(pseudo_target) if pseudo_target else None
        self.style_from = style_from
        self.key_momentum = key_momentum
        self.reliable_threshold = reliable_threshold
        self.target_queries = target_queries
        self.target_query_weight = target_query_weight
        self.key_interval = key_interval
        self.source_loss_view = source_loss_view
        # Steps taken: which ones compute keys (a buffer, so a resumed run continues the cycle).
        self.register_buffer('t2s_step', torch.zeros((), dtype=torch.long))
        # Step-scoped hand-over between the named steps (cleared at the end of every step).
        self._teacher_feats: Optional[Tensor] = None
        self._target_pool: Optional[Tuple[Tensor, Tensor]] = None
        self._target_confidence: Optional[Tuple[Tensor, Tensor]] = None
        self._pools: Optional[KeyPools] = None
        self._last_stats: Optional[Dict[str, Tensor]] = None
        self._feature_size: Tuple[int, int] = (0, 0)  # of the embedded feature, this step

    def init_weights(self):
        super().init_weights()
        self.aux['key_projection'].load_state_dict(self.aux['projection'].state_dict())

    # ------------------------------------------------------------------ the step
    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        source, target = self.split_batch(inputs, data_samples)
        try:
            self.update_key_projection()
            pseudo_labels = self.pseudo_labels(target)  # keeps the unreliable target keys
            view = self.pseudo_target_view(source, target)
            losses = add_prefix(self._backward_now(self.t2s_source_loss(source, view)), 'src')
            mixed = self.student_view(source, target, pseudo_labels)
            outputs = self.student_forward(mixed.img)
            losses.update(add_prefix(self.target_loss(outputs, mixed.pseudo_labels, target),
                                     'tgt'))
            self.t2s_step += 1
        finally:
            self._clear_step_state()
        return losses

    @torch.no_grad()
    def update_key_projection(self) -> None:
        """``key <- m * key + (1 - m) * student`` for the projection heads' tensors."""
        key, student = self.aux['key_projection'], self.aux['projection']
        k = [t for t in key.state_dict().values() if t.is_floating_point()]
        s = [t.detach() for t in student.state_dict().values() if t.is_floating_point()]
        torch._foreach_mul_(k, self.key_momentum)
        torch._foreach_add_(k, s, alpha=1 - self.key_momentum)

    def pseudo_labels(self, target: Branch) -> Optional[PseudoLabels]:
        pl = super().pseudo_labels(target)
        feats, self._teacher_feats = self._teacher_feats, None
        if pl is None or feats is None or pl.probs is None:
            return pl
        size = feats.shape[2:]
        conf, _ = pl.probs.max(1)
        conf = nearest_labels(conf, size)
        labels = nearest_labels(pl.labels, size)
        valid = (labels != IGNORE_INDEX) & (labels < self.num_classes)
        unreliable = (valid & (conf < self.reliable_threshold)).flatten()
        keys = pixels(self.aux['key_projection'](feats))
        flat = labels.flatten()
        self._target_pool = (keys[unreliable], flat[unreliable])
        self.aux['t2s_memory'].push('target', *self._target_pool)
        self._target_confidence = (conf.flatten()[valid.flatten()], flat[valid.flatten()])
        return pl

    @torch.no_grad()
    def teacher_outputs(self, img: Tensor, metas=None):
        """As the base class, keeping the label model's decoder features [B, D, h, w] for the
        target keys (the same forward: ``decode_head(x) == cls_seg(_forward_feature(x))``; an
        HRDA student labels with its own sliding-window inference, and the context view's
        features are computed beside it)."""
        net = self.label_model
        if isinstance(net, AdaptationStudent):
            probs, context = super().teacher_outputs(img, metas)
            self._teacher_feats = self._decoder_features(net, img)
            return probs, context
        feats = self._decoder_features(net, img)
        self._teacher_feats = feats
        return self._resize_logits(net, net.decode_head.cls_seg(feats), img).softmax(1), {}

    def _decoder_features(self, net, img: Tensor) -> Tensor:
        with _labelling_mode(net, self.teacher_mode == 'train'):
            return feature_head(net)._forward_feature(net.extract_feat(img))

    def pseudo_target_view(self, source: Branch, target: Optional[Branch]) -> Branch:
        """The source batch rendered target-like (labels unchanged), or the source itself."""
        if self.pseudo_target is None:
            return source
        mean = self.data_preprocessor.mean.view(-1)
        std = self.data_preprocessor.std.view(-1)
        if self.style_from is None:
            img = self.pseudo_target(source.img, mean=mean, std=std)
        else:
            style = target.img if self.style_from == 'target' else source.img.roll(1, 0)
            img = self.pseudo_target(source.img, style, mean, std)
        return Branch(img, source.samples)

    def t2s_source_loss(self, source: Branch, view: Branch) -> Dict[str, Tensor]:
        """Supervised loss (+ feature distance) on ``view`` (or on the clean ``source``, see
        ``source_loss_view``) and the contrastive loss of the view's queries against the
        teacher's keys of the clean ``source``."""
        net = self.student
        supervised = source if self.source_loss_view == 'clean' else view
        if isinstance(net, AdaptationStudent):  # HRDA: its own supervised forward
            losses, out = net.supervised_adaptation_outputs(supervised.img, supervised.samples)
            backbone_feats, fd_input = out.backbone_feats, out.backbone_input
            dec = (feature_head(net)._forward_feature(list(backbone_feats))
                   if supervised is view else None)
            logits = out.decoder_logits
        else:
            backbone_feats = net.backbone(supervised.img)
            feats = net.neck(backbone_feats) if net.with_neck else backbone_feats
            dec = net.decode_head._forward_feature(feats)
            logits = net.decode_head.cls_seg(dec)
            losses = add_prefix(net.decode_head.loss_by_feat(logits, supervised.samples),
                                'decode')
            fd_input = supervised.img
        gt = stack_labels(source.samples)
        if self.feature_distance is not None:
            with torch.no_grad():
                ref = self.aux['imnet'](fd_input)[-1]
            losses[self.feature_distance.loss_name] = self.feature_distance(
                backbone_feats[-1], ref, gt, self.num_classes)
        if supervised is not view:  # the queries' own forward (the context view's on HRDA)
            dec = feature_head(net)._forward_feature(net.extract_feat(view.img))

        self._feature_size = tuple(dec.shape[2:])
        labels = nearest_labels(gt, dec.shape[2:]).flatten()
        valid = (labels != IGNORE_INDEX) & (labels < self.num_classes)
        labels = labels[valid]
        memory = self.aux['t2s_memory']
        # (the default reads no counter: int() of a GPU buffer would sync every step)
        if self.key_interval == 1 or int(self.t2s_step) % self.key_interval == 0:
            with torch.no_grad():
                keys = pixels(self.aux['key_projection'](
                    self._decoder_features(self.teacher, source.img)))[valid]
            prototypes, prototype_valid = memory.update_prototypes(keys, labels)
            memory.push('source', keys, labels)
        else:  # no teacher forward: the memory's prototypes and queued source keys
            prototypes, prototype_valid = memory.prototypes.clone(), memory.prototype_valid.clone()
            keys = None
        tracker = self.aux['t2s_reweighting'] if 't2s_reweighting' in self.aux else None
        empty = (prototypes.new_zeros(0, prototypes.shape[1]), labels.new_zeros(0))
        self._pools = KeyPools(
            prototypes, prototype_valid,
            memory.pool('source') if memory.queue_size else (keys, labels),
            (memory.pool('target') if memory.queue_size else self._target_pool) or empty,
            None if tracker is None else tracker.weights())
        queries = pixels(self.aux['projection'](dec))[valid]
        loss, stats = self._contrast(queries, labels)
        losses[self.t2s_loss.loss_name] = loss
        losses.update(stats)
        if tracker is not None:
            with torch.no_grad():
                tracker.update(*self._class_scores(logits, labels, valid, stats))
        return losses

    def target_loss(self, outputs: StudentOutputs, pseudo_labels: Optional[PseudoLabels],
                    target: Branch) -> Dict[str, Tensor]:
        losses = super().target_loss(outputs, pseudo_labels, target)
        if not self.target_queries or pseudo_labels is None or pseudo_labels.probs is None:
            return losses
        feats = outputs.decoder_feats
        if feats is None:  # an HRDA student: the context view's features of the same forward
            feats = feature_head(self.student)._forward_feature(list(outputs.backbone_feats))
        size = feats.shape[2:]
        labels = pseudo_labels.labels
        keep = (labels != IGNORE_INDEX) & (labels < self.num_classes) & (
            pseudo_labels.probs.max(1)[0] >= self.reliable_threshold)
        if 'mix_mask' in pseudo_labels.extras:  # pasted source pixels are not target queries
            keep &= ~pseudo_labels.extras['mix_mask'][:, 0]
        keep = nearest_labels(keep, size).flatten()
        labels = nearest_labels(labels, size).flatten()[keep]
        queries = pixels(self.aux['projection'](feats))[keep]
        loss, stats = self._contrast(queries, labels)
        losses[self.t2s_loss.loss_name] = self.target_query_weight * loss
        losses.update(stats)
        return losses

    # ------------------------------------------------------------------ helpers
    def _contrast(self, queries: Tensor, labels: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        p = self._pools
        loss, stats = self.t2s_loss(queries, labels, p.prototypes, p.prototype_valid, *p.source,
                                    *p.target, class_weights=p.class_weights)
        self._last_stats = stats
        logged = {f't2s_{k}': v for k, v in stats.items() if v.dim() == 0}
        return loss, logged

    def _class_scores(self, logits: Tensor, labels: Tensor, valid: Tensor,
                      logged: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
        """The step's per-class score [C] and present mask [C] for ``reweight_score``."""
        c = self.num_classes
        if self.reweight_score in ('source_iou', 'source_accuracy'):
            size = self._feature_size
            if tuple(logits.shape[2:]) != tuple(size):  # HRDA: fused logits on the detail grid
                logits = resize(logits, size=size, mode='bilinear', align_corners=False)
            pred = logits.argmax(1).flatten()[valid]
            fn = class_iou if self.reweight_score == 'source_iou' else class_accuracy
            return fn(pred, labels, c)
        if self.reweight_score == 'target_confidence':
            if self._target_confidence is None:
                return logits.new_zeros(c), torch.zeros(c, dtype=torch.bool,
                                                        device=logits.device)
            return class_mean(*self._target_confidence, c)
        return self._last_stats['accuracy'], self._last_stats['accuracy_present']

    def _clear_step_state(self):
        self._teacher_feats = self._target_pool = self._target_confidence = self._pools = None
        self._last_stats = None


@MODELS.register_module()
class T2SDGSegmentor(T2SDASegmentor):
    """T2S-DA's domain-generalisation form: no target data at all.

    Trained on a plain source dataset (mmseg batches, no ``DomainPairDataset``): the student's
    supervised loss on a stylised view of the source (``pseudo_target``: the paper's learned
    ``StyleAugmentor`` with ``style_from=None``, or the weight-free stand-ins ``StrongAugment``
    photometric jitter with ``style_from=None`` (the default) or ``FDA`` with another source
    image's amplitude, ``style_from='source'``), and the contrastive pull of its features towards
    the teacher's clean-source prototypes with source negatives only. No pseudo-labels, mixing
    or target losses. ``setting`` is ``'uda'`` internally (the source step and the feature
    distance are the UDA ones); :meth:`loss` never reads a target branch.
    """

    def __init__(self, pseudo_target: Optional[dict] = dict(type='StrongAugment'),
                 style_from: Optional[str] = None, **kwargs):
        for key in ('pseudo_labeler', 'mixer', 'target_losses'):
            if kwargs.get(key):
                raise ValueError(f'T2SDGSegmentor trains without target data: {key} must be unset')
        if style_from == 'target':
            raise ValueError('T2SDGSegmentor has no target images: style_from must be "source" '
                             'or None')
        kwargs.update(setting='uda', target_queries=False)
        loss = kwargs.get('t2s_loss', {})
        if loss.get('negative_domains', 'both') != 'source':
            raise ValueError('T2SDGSegmentor has no target pixels: t2s_loss.negative_domains must '
                             'be "source"')
        super().__init__(pseudo_target=pseudo_target, style_from=style_from, **kwargs)

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        if isinstance(inputs, dict):
            raise ValueError('T2SDGSegmentor trains on a plain source dataset, got a batch with '
                             f'branches {sorted(inputs)}: the train dataloader must not be a '
                             'DomainPairDataset')
        source = Branch(inputs, data_samples)
        try:
            self.update_key_projection()
            losses = add_prefix(
                self.t2s_source_loss(source, self.pseudo_target_view(source, None)), 'src')
            self.t2s_step += 1
            return losses
        finally:
            self._clear_step_state()
