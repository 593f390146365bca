"""Offline pseudo-labelling: label a whole target set with a model, into a directory of files.

:func:`label_dataset` is what a self-training round (:class:`~mmsfda.engine.loops.SelfTrainingLoop`)
and ``tools/gen_pseudo_labels.py`` run. The model gives the probabilities
(``model.teacher_outputs(img, metas) -> (probs [B, C, H, W], context)``: the teacher, or the student
without one), optionally with test-time augmentation (:class:`LabelingTTA`: scales fused by mean or
max, horizontal flip, sliding window); the labeler (``model.pseudo_labeler`` by default) turns them
into labels through the offline protocol of
:class:`~mmsfda.models.pseudo_labelers.base_pseudo_labeler.BasePseudoLabeler`. The files are
those of :mod:`mmsfda.datasets.pseudo_label_files`.
"""
import copy
import dataclasses
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from mmseg.models.utils import resize
from torch import Tensor, nn

from ..datasets.pseudo_label_files import (FORMAT_VERSION, IDENTITY, MANIFEST, STATE,
                                           WEIGHT_SCALE, WEIGHT_SUFFIX, check_unique_stems,
                                           clear_directory, has_pseudo_label, load_state,
                                           read_json, read_pseudo_label, remove_temporary_files,
                                           save_state, write_json, write_pseudo_label)
from ..models.pseudo_labelers import IGNORE_INDEX, PseudoLabels, pseudo_label_stats
from ..models.pseudo_labelers.base_pseudo_labeler import BasePseudoLabeler

FUSIONS = ('mean', 'max')


# ------------------------------------------------------------------------ test-time augmentation
@dataclasses.dataclass(frozen=True)
class LabelingTTA:
    """Test-time augmentation of the labelling forward pass.

    Every view (each scale, and its horizontal mirror with ``flip``) of the preprocessed batch
    [B, 3, H, W] goes through ``model.teacher_outputs``; its probabilities are un-flipped, resized
    (bilinear) back to [H, W] and fused over the views:

    * ``'mean'``: the average of the views' probabilities (still a distribution);
    * ``'max'``: the per-class maximum over the views, renormalised to sum to 1 over the classes
      (so that confidence thresholds still compare probabilities). A class that one view is sure
      of wins over classes that every view finds plausible.

    A view larger than ``crop_size`` is labelled by a sliding window (as mmseg's ``slide``
    inference: windows every ``stride`` pixels, the last one flush with the border); overlapping
    windows average their probabilities. The teacher's per-image context (e.g. ``est_ece`` [B])
    is averaged over windows and views.

    Args:
        scales (Sequence[float]): Resize factors of the input, e.g. ``(0.75, 1.0, 1.25)``.
        fusion (str): ``'mean'`` or ``'max'``.
        flip (bool): Add the horizontally flipped view of every scale.
        crop_size (tuple[int, int], optional): (h, w) of the sliding window; None: whole images.
        stride (tuple[int, int], optional): (h, w) step of the window. Defaults to ``crop_size``
            (no overlap); needs ``crop_size``.
    """
    scales: Tuple[float, ...] = (1.0, )
    fusion: str = 'mean'
    flip: bool = False
    crop_size: Optional[Tuple[int, int]] = None
    stride: Optional[Tuple[int, int]] = None

    def __post_init__(self):
        scales = tuple(float(s) for s in (self.scales if isinstance(self.scales, (list, tuple))
                                          else (self.scales, )))
        if not scales or any(not s > 0 for s in scales):
            raise ValueError(f'TTA scales must be positive numbers, got {self.scales!r}')
        if self.fusion not in FUSIONS:
            raise ValueError(f'TTA fusion must be one of {FUSIONS}, got {self.fusion!r}')
        object.__setattr__(self, 'scales', scales)
        object.__setattr__(self, 'flip', bool(self.flip))
        crop = _pair(self.crop_size, 'crop_size')
        stride = _pair(self.stride, 'stride')
        if stride is not None and crop is None:
            raise ValueError('TTA stride needs a crop_size (the sliding window)')
        object.__setattr__(self, 'crop_size', crop)
        object.__setattr__(self, 'stride', stride if stride is not None or crop is None else crop)

    @property
    def is_identity(self) -> bool:
        """One view at scale 1 without a window: exactly the plain forward pass."""
        return self.scales == (1.0, ) and not self.flip and self.crop_size is None

    def to_dict(self) -> dict:
        return dict(scales=list(self.scales), fusion=self.fusion, flip=self.flip,
                    crop_size=None if self.crop_size is None else list(self.crop_size),
                    stride=None if self.stride is None else list(self.stride))


def _pair(value, name: str) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2 or any(int(v) != v or v <= 0 for v in pair):
        raise ValueError(f'TTA {name} must be a positive int or (h, w), got {value!r}')
    return int(pair[0]), int(pair[1])


def build_tta(tta: Union[None, dict, LabelingTTA]) -> Optional[LabelingTTA]:
    """``None``, a dict of :class:`LabelingTTA` arguments or a :class:`LabelingTTA`; None when it
    changes nothing (so that the default path stays the plain forward pass, bit for bit)."""
    if tta is None:
        return None
    if isinstance(tta, dict):
        unknown = set(tta) - {f.name for f in dataclasses.fields(LabelingTTA)}
        if unknown:
            raise ValueError(f'unknown TTA options {sorted(unknown)}: expected scales, fusion, '
                             'flip, crop_size, stride')
        tta = LabelingTTA(**tta)
    if not isinstance(tta, LabelingTTA):
        raise TypeError(f'tta must be None, a dict or a LabelingTTA, got {type(tta).__name__}')
    return None if tta.is_identity else tta


def window_starts(size: int, crop: int, stride: int) -> List[int]:
    """Start of each window along one axis (mmseg ``slide_inference``: the last flush with the
    end; one window when ``size <= crop``)."""
    grids = max(size - crop + stride - 1, 0) // stride + 1
    return sorted({max(min(i * stride + crop, size) - crop, 0) for i in range(grids)})


def _add_context(total: Dict[str, Tensor], context: Dict[str, Tensor]) -> None:
    for k, v in context.items():
        total[k] = total[k] + v.float() if k in total else v.float().clone()


def sliding_window_outputs(model, img: Tensor, crop_size: Tuple[int, int],
                           stride: Tuple[int, int]) -> Tuple[Tensor, Dict[str, Tensor]]:
    """``model.teacher_outputs`` window by window.

    Args:
        model: Has ``teacher_outputs(img [B, 3, h, w], metas) -> (probs [B, C, h, w], ctx)``.
        img (Tensor): [B, 3, H, W].
        crop_size, stride (tuple[int, int]): Window size and step (h, w).

    Returns:
        tuple: probabilities [B, C, H, W] (the mean of the windows covering each pixel) and the
        context averaged over the windows.
    """
    (h, w), (ch, cw), (sh, sw) = img.shape[2:], crop_size, stride
    ys, xs = window_starts(h, ch, sh), window_starts(w, cw, sw)
    if len(ys) == 1 and len(xs) == 1:
        return model.teacher_outputs(img, None)
    total, count, context = None, img.new_zeros(1, 1, h, w), {}
    for y in ys:
        for x in xs:
            probs, ctx = model.teacher_outputs(img[:, :, y:y + ch, x:x + cw], None)
            if total is None:
                total = img.new_zeros(img.shape[0], probs.shape[1], h, w, dtype=probs.dtype)
            total[:, :, y:y + ch, x:x + cw] += probs
            count[:, :, y:y + ch, x:x + cw] += 1
            _add_context(context, ctx)
    n = len(ys) * len(xs)
    return total / count.to(total.dtype), {k: v / n for k, v in context.items()}


def tta_outputs(model, img: Tensor, metas: Optional[List[dict]],
                tta: Optional[LabelingTTA]) -> Tuple[Tensor, Dict[str, Tensor]]:
    """Probabilities [B, C, H, W] at the input size of ``img`` [B, 3, H, W], and context.

    ``tta=None`` is ``model.teacher_outputs(img, metas)`` itself; see :class:`LabelingTTA`.
    """
    if tta is None:
        return model.teacher_outputs(img, metas)
    h, w = img.shape[2:]
    align_corners = bool(getattr(model, 'align_corners', False))
    fused, context, views = None, {}, 0
    for scale in tta.scales:
        size = (max(1, int(round(h * scale))), max(1, int(round(w * scale))))
        scaled = img if size == (h, w) else F.interpolate(img, size=size, mode='bilinear',
                                                          align_corners=False)
        for flip in ((False, True) if tta.flip else (False, )):
            view = scaled.flip(3) if flip else scaled
            if tta.crop_size is None:
                probs, ctx = model.teacher_outputs(view, None)
            else:
                probs, ctx = sliding_window_outputs(model, view, tta.crop_size, tta.stride)
            if flip:
                probs = probs.flip(3)
            if tuple(probs.shape[2:]) != (h, w):
                probs = resize(probs, size=(h, w), mode='bilinear', align_corners=align_corners)
            if fused is None:
                fused = probs.clone()
            elif tta.fusion == 'mean':
                fused += probs
            else:
                torch.maximum(fused, probs, out=fused)
            _add_context(context, ctx)
            views += 1
    if tta.fusion == 'mean':
        fused /= views
    else:
        fused /= fused.sum(dim=1, keepdim=True).clamp(min=torch.finfo(fused.dtype).tiny)
    return fused, {k: v / views for k, v in context.items()}


# ---------------------------------------------------------------------------- identity
def weights_sha1(model: nn.Module, exclude: Sequence[str] = ()) -> str:
    """SHA-1 of a model's state (every parameter and buffer: names, dtypes, shapes, bytes).

    Args:
        model (nn.Module): The model.
        exclude (Sequence[str]): Key prefixes left out (e.g. the labeler's ``'pseudo_labeler.'``).
    """
    h = hashlib.sha1()
    for k, v in sorted(model.state_dict().items()):
        if any(k.startswith(p) for p in exclude) or not isinstance(v, Tensor):
            continue
        v = v.detach().cpu().contiguous().reshape(-1)
        h.update(f'{k}|{v.dtype}|{tuple(v.shape)}|'.encode())
        h.update(v.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _plain(value):
    """JSON-safe form of a labeler attribute (None if it has none)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)) and all(_plain(v) is not None or v is None for v in value):
        return [_plain(v) for v in value]
    return None


def labeler_identity(labeler: nn.Module) -> dict:
    """The labeler's type and hyper-parameters (its plain attributes, defaults included)."""
    params = {}
    for k, v in sorted(vars(labeler).items()):
        if k.startswith('_') or k == 'training':  # nn.Module internals
            continue
        plain = _plain(v)
        if plain is not None or v is None:
            params[k] = plain
    return dict(type=type(labeler).__name__, **params)


def dataset_identity(dataset) -> dict:
    """Type, data root, number of images and SHA-1 of the sorted image list.

    The built pipeline is not part of it: transforms change their own attributes when they run
    (mmseg's ``LoadAnnotations`` sets ``reduce_zero_label``), so its repr is no stable key; pass
    the pipeline's config to :func:`label_dataset` as ``identity_extra``."""
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    check_unique_stems(paths)
    root = getattr(dataset, 'data_root', None) or None
    names = sorted(osp.relpath(p, root) if root else p for p in paths)
    return dict(type=type(dataset).__name__, data_root=osp.abspath(root) if root else None,
                num_images=len(paths),
                list_sha1=hashlib.sha1('\n'.join(names).encode()).hexdigest())


def _jsonable(obj):
    """``obj`` as plain JSON types (configs: ``ConfigDict`` -> dict, tuples -> lists)."""
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def identity_hash(identity: dict) -> str:
    return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _flatten(obj, prefix=''):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: obj}


def describe_difference(found: dict, expected: dict) -> str:
    """``'key: <there> there, <now> now; ...'`` over the differing (flattened) entries."""
    a, b = _flatten(found), _flatten(expected)

    def short(v):
        text = json.dumps(v, sort_keys=True)
        return text if len(text) <= 60 else text[:57] + '...'
    diffs = [f'{k}: {short(a.get(k))} there, {short(b.get(k))} now'
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return '; '.join(diffs) or 'unreadable identity'


# ---------------------------------------------------------------------------- dataloader
def label_dataloader_cfg(cfg: dict) -> dict:
    """A copy of a dataloader config whose ``DefaultSampler`` visits every image once, in order
    (``shuffle=False, round_up=False``): under DDP every rank labels its own shard."""
    cfg = copy.deepcopy(dict(cfg))
    sampler = dict(cfg.get('sampler') or dict(type='DefaultSampler'))
    if sampler.get('type') in ('DefaultSampler', 'mmengine.DefaultSampler'):
        sampler.update(shuffle=False, round_up=False)
    cfg['sampler'] = sampler
    return cfg


def _require_images(dataset, what: str) -> None:
    """Raise if ``dataset`` is empty, naming its type and data root."""
    if len(dataset) == 0:
        raise ValueError(f'{what} ({type(dataset).__name__}, data_root='
                         f'{getattr(dataset, "data_root", None)!r}, data_prefix='
                         f'{getattr(dataset, "data_prefix", None)!r}) has no images: check the '
                         'paths and the image suffix')


# ---------------------------------------------------------------------------- labelling
def _to_original(probs: Tensor, samples, align_corners: bool) -> List[Tensor]:
    """Each image's probabilities [C, h, w] at its original size: the preprocessor's padding
    cropped, a pipeline flip undone, resized (bilinear) as mmseg's ``postprocess_result``."""
    out = []
    for i, sample in enumerate(samples):
        meta = sample.metainfo
        p = probs[i:i + 1]
        h, w = p.shape[2:]
        left, right, top, bottom = meta.get('img_padding_size',
                                            meta.get('padding_size', [0, 0, 0, 0]))
        p = p[:, :, top:h - bottom, left:w - right]
        if meta.get('flip'):
            p = p.flip(dims=(3, ) if meta.get('flip_direction') == 'horizontal' else (2, ))
        ori = tuple(meta['ori_shape'][:2])
        if tuple(p.shape[2:]) != ori:
            p = resize(p, size=ori, mode='bilinear', align_corners=align_corners)
        out.append(p[0])
    return out


def _batched(probs: List[Tensor], contexts: List[dict]) -> List[Tuple[Tensor, dict]]:
    """``(probs [B, C, H, W], context)`` for the whole batch if all images have one size, else
    one ``([1, C, h, w], context)`` per image."""
    if all(p.shape == probs[0].shape for p in probs):
        return [(torch.stack(probs), {k: torch.cat([c[k] for c in contexts])
                                      for k in contexts[0]})]
    return [(p[None], c) for p, c in zip(probs, contexts)]


class _Labeller:
    """One call of :func:`label_dataset` (the state shared by its passes)."""

    def __init__(self, model, loader, out_dir, labeler, tta, round_idx, progress):
        self.model, self.loader, self.out_dir = model, loader, out_dir
        self.labeler, self.tta, self.round = labeler, tta, round_idx
        self.progress = progress
        self.align_corners = bool(getattr(model, 'align_corners', False))

    def outputs(self, data) -> Tuple[List[Tensor], List[dict], list]:
        """Probabilities [C, h, w] at each image's original size, per-image contexts, samples."""
        data = self.model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        probs, context = tta_outputs(self.model, inputs, [s.metainfo for s in samples], self.tta)
        contexts = [{k: v[i:i + 1] for k, v in context.items()} for i in range(len(samples))]
        return _to_original(probs, samples, self.align_corners), contexts, samples

    def bar(self, what: str):
        if not (self.progress and dist.is_main_process()):
            return None
        print_log(what, logger='current')
        sampler = self.loader.sampler
        return ProgressBar(len(sampler) if hasattr(sampler, '__len__') else
                           len(self.loader.dataset))

    @staticmethod
    def end(bar) -> None:
        if bar is not None:  # the bar leaves its line open
            bar.file.write('\n')
            bar.file.flush()

    def statistics_pass(self) -> None:
        """Pass 1 of a two-pass labeler: ``reset_stats``, ``accumulate`` every image,
        ``finalize`` (reduced over ranks)."""
        bar = self.bar(f'round {self.round}: pass 1/2, labeler statistics over '
                       f'{len(self.loader.dataset)} images')
        self.labeler.reset_stats()
        for data in self.loader:
            probs, contexts, _ = self.outputs(data)
            for p, context in _batched(probs, contexts):
                self.labeler.accumulate(p, **context)
            if bar is not None:
                bar.update(len(probs))
        self.end(bar)
        self.labeler.finalize()

    def label_pass(self, passes: str):
        """Label this rank's shard; images whose two files exist are read back instead."""
        bar = self.bar(f'round {self.round}: pass {passes}, writing pseudo-labels of '
                       f'{len(self.loader.dataset)} images to {self.out_dir}')
        num_classes = self.model.num_classes
        # The same keys on every rank (ground-truth counts stay 0 without ground truth).
        totals: Dict[str, Tensor] = dict(
            pixels=torch.zeros((), dtype=torch.float64),
            **{k: torch.zeros(num_classes, dtype=torch.float64)
               for k in ('labelled', 'weight', 'evaluated', 'correct')})
        done = reused = 0
        use_gt = bool(getattr(self.model, 'diagnostics_use_target_gt', False))
        for data in self.loader:
            samples = data['data_samples']
            paths = [s.img_path for s in samples]
            todo = [not has_pseudo_label(self.out_dir, p) for p in paths]
            fresh = {}
            if any(todo):
                # The whole batch: a labeler may couple the images of a batch.
                probs, contexts, samples = self.outputs(data)
                outs = [self.labeler(p, **c) for p, c in _batched(probs, contexts)]
                labels = [lab for o in outs for lab in o.labels]
                weights = [w for o in outs for w in o.weights]
                for i, p in enumerate(paths):
                    if todo[i]:
                        write_pseudo_label(self.out_dir, p, labels[i], weights[i])
                        fresh[i] = (labels[i].cpu(), weights[i].float().cpu())
            for i, p in enumerate(paths):
                if i in fresh:
                    labels_i, weights_i = fresh[i]
                else:
                    labels_i, weights_i = read_pseudo_label(self.out_dir, p)
                    reused += 1
                # Target ground truth only for diagnostics the model's config allows.
                gt = (samples[i].gt_sem_seg.data[0].cpu()
                      if use_gt and 'gt_sem_seg' in samples[i] else None)
                if gt is not None and gt.shape != labels_i.shape:
                    gt = None
                st = pseudo_label_stats(PseudoLabels(labels_i[None], weights_i[None]),
                                        num_classes, None if gt is None else gt[None])
                for k, v in st.items():
                    totals[k] += v
                done += 1
            if bar is not None:
                bar.update(len(paths))
        self.end(bar)
        return totals, done, reused


def summarise(stats: Dict[str, Tensor]) -> dict:
    """Coverage, mean weight, labelled pixels per class and (diagnostics, with ground truth)
    accuracy of summed :func:`pseudo_label_stats` counts."""
    pixels = float(stats['pixels'])
    labelled = stats['labelled']
    evaluated = float(stats['evaluated'].sum())
    return dict(
        pixels=int(pixels),
        coverage=float(labelled.sum()) / pixels if pixels else 0.0,
        mean_weight=float(stats['weight'].sum() / labelled.sum()) if labelled.sum() else 0.0,
        labelled_per_class=[int(v) for v in labelled],
        accuracy=float(stats['correct'].sum()) / evaluated if evaluated else None,
        accuracy_per_class=[float(c / e) if e else None
                            for c, e in zip(stats['correct'], stats['evaluated'])])


def _inspect(out_dir: str, identity: dict, digest: str, check_weights: bool) -> Tuple[str, str]:
    """Rank 0: ``(verdict, message)``, verdict ``'complete'`` | ``'partial'`` | ``'fresh'``.

    A directory written for another identity is cleared (only files this module writes); a
    non-empty directory this module did not write is an error. Without ``check_weights`` a
    complete directory whose identity differs only by ``model_sha1`` is complete."""
    manifest = read_json(osp.join(out_dir, MANIFEST))
    partial = read_json(osp.join(out_dir, IDENTITY))
    found = manifest if manifest is not None else partial
    if found is not None:
        if found.get('hash') == digest:
            return ('complete' if manifest is not None else 'partial'), ''
        there = dict(found.get('identity') or {})
        if manifest is not None and not check_weights and \
                dict(there, model_sha1=None) == dict(identity, model_sha1=None):
            return 'complete', ''
        why = describe_difference(there, identity)
        removed = clear_directory(out_dir)
        message = (f'relabelling {out_dir}: its {"complete" if manifest else "partial"} labels '
                   f'were made by another labelling ({why}); {removed} files removed')
    else:
        if osp.isdir(out_dir) and any(n.endswith('.png') for n in os.listdir(out_dir)):
            raise ValueError(f'{out_dir} holds PNG files but no {IDENTITY} or {MANIFEST}: it is '
                             'not a pseudo-label directory of label_dataset (or lost its '
                             'identity); choose an empty directory')
        message = ''
    os.makedirs(out_dir, exist_ok=True)
    write_json(osp.join(out_dir, IDENTITY), dict(identity=identity, hash=digest))
    return 'fresh', message


def dataset_statistics(model, dataloader, accumulator,
                       tta: Union[None, dict, LabelingTTA] = None,
                       progress: bool = True) -> None:
    """Pass 1 of the labelling pass alone: feed every image of ``dataloader`` to
    ``accumulator`` and finalise it (reduced over ranks), writing no file.

    For dataset-level statistics a method needs outside a self-training round (UPLR's class
    uncertainty at the start of an adversarial stage). Every rank calls it on its shard.

    Args:
        model: As :func:`label_dataset` (``teacher_outputs``, ``data_preprocessor``).
        dataloader (DataLoader): Every image once (:func:`label_dataloader_cfg`).
        accumulator: Has the statistics protocol of :class:`BasePseudoLabeler`:
            ``reset_stats()``, ``accumulate(probs [B, C, H, W], **context)``, ``finalize()``
            (e.g. a two-pass labeler, or
            :class:`~mmsfda.models.pseudo_labelers.class_uncertainty.ClassUncertainty`).
        tta, progress: As :func:`label_dataset`.
    """
    model = model.module if is_model_wrapper(model) else model
    _require_images(dataloader.dataset, 'the set to compute statistics on')
    if dist.get_world_size() > 1 and getattr(dataloader.sampler, 'round_up', False):
        raise ValueError('the statistics dataloader rounds the dataset up to a multiple of the '
                         'world size: build it from label_dataloader_cfg(cfg)')
    job = _Labeller(model, dataloader, None, accumulator, build_tta(tta), 0, progress)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            job.statistics_pass()
    finally:
        model.train(was_training)


def label_dataset(model,
                  dataloader,
                  out_dir: str,
                  labeler: Optional[BasePseudoLabeler] = None,
                  tta: Union[None, dict, LabelingTTA] = None,
                  round_idx: int = 0,
                  identity_extra: Optional[dict] = None,
                  check_weights: bool = True,
                  progress: bool = True) -> dict:
    """Label every image of ``dataloader`` into ``out_dir`` (or reuse what is there).

    Steps (every rank calls this; each labels the shard its sampler gives it):

    1. **Identity.** What produces the labels: the format version, the round, the dataset (type,
       root, image list), ``identity_extra`` (the pipeline's config), the labeler's type and
       hyper-parameters, the TTA options, ``teacher_mode`` and a SHA-1 of the model's weights
       (labeler state excluded). Its hash keys the directory. Rank 0 reads the directory: a ``manifest.json`` with the same hash is
       a complete labelling, reused as is; an ``identity.json`` with the same hash is a partial
       one, resumed; any other hash is logged with the differences and the directory cleared.
    2. ``labeler.set_round(round_idx)``. A resumed or reused directory's ``labeler_state.pt`` is
       loaded into the labeler (the state the round was labelled with, e.g. its thresholds). Else,
       if ``labeler.needs_statistics``, pass 1 (``reset_stats``, ``accumulate``, ``finalize``);
       the labeler's :meth:`round_state` is then saved.
    3. Pass 2 labels the images whose two files are missing (a batch with any missing image is
       labelled whole) and writes them atomically; statistics are summed over all images.
    4. Rank 0 writes ``manifest.json`` last (identity, hash, statistics, images per rank).

    The model runs in eval mode under ``torch.no_grad`` (its train flag is restored); the label
    network runs in the model's ``teacher_mode``.

    Args:
        model: A segmentor (wrappers are unwrapped) with ``teacher_outputs(img, metas)``,
            ``data_preprocessor``, ``num_classes`` and, unless ``labeler`` is given,
            ``pseudo_labeler``.
        dataloader (DataLoader): Test-time pipeline over the set, every image once: build it
            from :func:`label_dataloader_cfg` (shuffle and round-up off).
        out_dir (str): The directory of the labels (shared by all ranks).
        labeler (BasePseudoLabeler, optional): Defaults to ``model.pseudo_labeler``.
        tta (dict | LabelingTTA, optional): Test-time augmentation; None: one plain forward.
        round_idx (int): The self-training round (growing proportions). Defaults to 0.
        identity_extra (dict, optional): Anything else that decides the labels, JSON-able (e.g.
            ``dict(pipeline=<the label pipeline's config>)``); part of the identity.
        check_weights (bool): Whether a complete directory must have been labelled by the
            model's current weights. False for a run resumed in the middle of a round: its
            weights have trained since they labelled the round, whose labels are still the ones
            to train on (everything else in the identity must match). Defaults to True.
        progress (bool): Progress bars on rank 0. Defaults to True.

    Returns:
        dict: The manifest (``identity``, ``hash``, ``stats``, ``images_per_rank``,
        ``reused_images``, ``labeler_state``, ``reused``: whether a complete labelling was
        reused).
    """
    model = model.module if is_model_wrapper(model) else model
    labeler = model.pseudo_labeler if labeler is None else labeler
    if not isinstance(labeler, BasePseudoLabeler):
        raise TypeError(f'label_dataset needs a pseudo-labeler (a BasePseudoLabeler), got '
                        f'{type(labeler).__name__}: configure model.pseudo_labeler')
    if not callable(getattr(model, 'teacher_outputs', None)):
        raise TypeError(f'label_dataset labels with model.teacher_outputs(): '
                        f'{type(model).__name__} has none (use a SelfTrainingSegmentor)')
    num_classes = int(model.num_classes)
    if num_classes > IGNORE_INDEX:
        raise ValueError(f'{num_classes} classes do not fit uint8 label files with '
                         f'{IGNORE_INDEX} = ignore')
    tta = build_tta(tta)
    dataset = dataloader.dataset
    _require_images(dataset, 'the set to label')
    if dist.get_world_size() > 1 and getattr(dataloader.sampler, 'round_up', False):
        raise ValueError('the labelling dataloader rounds the dataset up to a multiple of the '
                         'world size: some images would be labelled and counted twice. Build it '
                         'from label_dataloader_cfg(cfg) (DefaultSampler, round_up=False)')
    teacher_mode = getattr(model, 'teacher_mode', None)
    labeler_prefix = [f'{n}.' for n, m in model.named_modules() if m is labeler]
    identity = dict(format=FORMAT_VERSION, round=int(round_idx), num_classes=num_classes,
                    dataset=dataset_identity(dataset), labeler=labeler_identity(labeler),
                    tta=None if tta is None else tta.to_dict(), teacher_mode=teacher_mode,
                    model_sha1=weights_sha1(model, exclude=labeler_prefix),
                    extra=_jsonable(identity_extra))
    digest = identity_hash(identity)

    verdict = [None]
    if dist.is_main_process():
        try:
            verdict = [_inspect(out_dir, identity, digest, check_weights)]
        except (ValueError, OSError) as e:  # raised on every rank, not only here
            verdict = [('error', e)]
    dist.broadcast_object_list(verdict)
    state, message = verdict[0]
    if state == 'error':
        raise message
    if message:
        print_log(f'round {round_idx}: {message}', logger='current', level=logging.WARNING)

    labeler.set_round(round_idx)
    state_path = osp.join(out_dir, STATE)
    if state == 'complete':
        labeler.load_round_state(load_state(state_path), state_path)
        print_log(f'round {round_idx}: reusing the pseudo-labels in {out_dir} (hash {digest[:12]})',
                  logger='current')
        manifest = read_json(osp.join(out_dir, MANIFEST))
        return dict(manifest, reused=True)

    if teacher_mode == 'train':
        print_log('label_dataset: the label network runs in train mode (teacher_mode="train"): '
                  'its BN layers use batch statistics, so the labels depend on the batching; '
                  'offline labelling normally uses teacher_mode="eval"', logger='current',
                  level=logging.WARNING)
    job = _Labeller(model, dataloader, out_dir, labeler, tta, round_idx, progress)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            has_state = state == 'partial' and osp.isfile(state_path)
            if has_state:
                labeler.load_round_state(load_state(state_path), state_path)
                print_log(f'round {round_idx}: resuming {out_dir} with its saved labeler state',
                          logger='current')
            else:
                if labeler.needs_statistics:
                    job.statistics_pass()
                if dist.is_main_process():
                    save_state(state_path, labeler.round_state())
            dist.barrier()
            passes = '2/2' if labeler.needs_statistics else '1/1'
            stats, done, reused = job.label_pass(passes)
    finally:
        model.train(was_training)
    dist.barrier()  # every shard is written
    for v in stats.values():
        dist.all_reduce(v)
    per_rank = dist.all_gather_object(done)
    reused_total = sum(dist.all_gather_object(reused))
    summary = summarise(stats)
    manifest = dict(
        identity=identity, hash=digest, ignore_index=IGNORE_INDEX,
        files=dict(label='<stem>.png', weight=f'<stem>{WEIGHT_SUFFIX}.png'),
        weight_encoding=f'uint8, weight = value / {WEIGHT_SCALE}',
        images_per_rank=per_rank, reused_images=reused_total, stats=summary,
        labeler_state={k: v.tolist() for k, v in labeler.round_state().items()
                       if v.numel() <= 4096})
    if dist.is_main_process():
        remove_temporary_files(out_dir)  # left by a killed run; nobody writes now
        write_json(osp.join(out_dir, MANIFEST), manifest)
        acc = '' if summary['accuracy'] is None else \
            f", accuracy {100 * summary['accuracy']:.1f}% (diagnostics)"
        print_log(f'round {round_idx}: labelled {sum(per_rank)} images ({reused_total} reused) '
                  f"in {out_dir}: coverage {100 * summary['coverage']:.1f}%{acc}",
                  logger='current')
    dist.barrier()  # the manifest is written before anyone reads the directory
    return dict(manifest, reused=False)
