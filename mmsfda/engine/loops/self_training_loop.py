"""Round-based (offline) self-training: label the whole target set, then train on the labels.

CBST (Zou et al., ECCV 2018), Cal-SFDA (SPEC 3.7) and DiGA's self-training stage alternate two
steps: the current model labels every target train image (class-balanced thresholds need the
statistics of the whole set, hence "offline"), then the model trains for a while on those fixed
labels. :class:`SelfTrainingLoop` runs that schedule inside mmengine's runner; the model is a
:class:`~mmsfda.models.segmentors.SelfTrainingSegmentor` with ``pseudo_labels_from='dataset'``.
"""
import copy
import glob
import hashlib
import io
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine import dist
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, set_random_seed
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from mmengine.utils import ProgressBar
from mmseg.models.utils import resize
from mmseg.registry import LOOPS, TRANSFORMS
from torch import Tensor
from torch.utils.data import DataLoader

from ...datasets.transforms.load_pseudo_labels import (WEIGHT_SCALE, WEIGHT_SUFFIX,
                                                       LoadPseudoLabels, encode_weight,
                                                       pseudo_label_paths, pseudo_label_stem,
                                                       read_uint8_png)
from ...models.pseudo_labelers import IGNORE_INDEX, PseudoLabels, pseudo_label_stats
from ...utils.atomic import atomic_write

#: Bumped when the files of a round directory change meaning.
FORMAT_VERSION = 1
MANIFEST = 'manifest.json'  # written last: the round is complete
IDENTITY = 'identity.json'  # written first: what the directory is being filled for
STATS = 'stats.pt'  # the labeler's finalised dataset statistics (two-pass labelers)
IDENTITY_KEYS = ('format', 'round', 'dataset', 'num_classes', 'labeler')


def round_starts(rounds: Sequence[int]) -> List[int]:
    """First iteration of every round, plus the total: ``[0, n0, n0 + n1, ..., sum]``."""
    starts = [0]
    for n in rounds:
        starts.append(starts[-1] + int(n))
    return starts


def round_at(iteration: int, rounds: Sequence[int]) -> int:
    """Round that trains iteration ``iteration`` (0-based); ``len(rounds)`` once all are done."""
    starts = round_starts(rounds)
    for r in range(len(rounds)):
        if iteration < starts[r + 1]:
            return r
    return len(rounds)


def _write_json(path: str, obj: dict) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def _encode_png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise RuntimeError('cv2.imencode failed to encode a pseudo-label map as PNG')
    return buf.tobytes()


def write_pseudo_label(label_dir: str, img_path: str, labels: Tensor, weights: Tensor) -> None:
    """Write one image's ``<stem>_weight.png`` then ``<stem>.png`` (each atomically).

    Args:
        label_dir (str): The round directory.
        img_path (str): The image the labels belong to (names the files).
        labels (Tensor): [H, W] int64 class ids, 255 = ignore.
        weights (Tensor): [H, W] float in [0, 1], stored as ``round(w * 255)`` (uint8).
    """
    label_path, weight_path = pseudo_label_paths(label_dir, img_path)
    atomic_write(weight_path, _encode_png(encode_weight(weights.float().cpu().numpy())))
    atomic_write(label_path, _encode_png(labels.cpu().numpy().astype(np.uint8)))


def _require_images(dataset, what: str) -> None:
    """Raise if ``dataset`` is empty, naming its type and data root."""
    if len(dataset) == 0:
        raise ValueError(f'{what} ({type(dataset).__name__}, data_root='
                         f'{getattr(dataset, "data_root", None)!r}, data_prefix='
                         f'{getattr(dataset, "data_prefix", None)!r}) has no images: check the '
                         'paths and the image suffix')


def _jsonable(obj):
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _is_load_pseudo_labels(t) -> bool:
    cls = TRANSFORMS.get(t) if isinstance(t, str) else t
    return isinstance(cls, type) and issubclass(cls, LoadPseudoLabels)


def _set_label_dir(cfg, label_dir: Optional[str]) -> int:
    """Set ``label_dir`` of every ``LoadPseudoLabels`` in a (nested) config; returns how many."""
    found = 0
    if isinstance(cfg, dict):
        if _is_load_pseudo_labels(cfg.get('type')):
            cfg['label_dir'] = label_dir
            found += 1
        for v in cfg.values():
            found += _set_label_dir(v, label_dir)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            found += _set_label_dir(v, label_dir)
    return found


@LOOPS.register_module()
class SelfTrainingLoop(IterBasedTrainLoop):
    """Iteration-based training in rounds; the whole target set is relabelled before each round.

    At the start of round ``r`` (``rounds[r]`` iterations; the round of ``runner.iter``, so a
    resumed run picks up where it stopped), the model labels every image of ``label_dataloader``
    under ``torch.no_grad()`` in eval mode (the train mode is restored afterwards):

    1. ``model.teacher_outputs(img, metas)`` (or ``model.teacher_probs``) gives the probabilities,
       which are cropped of the preprocessor's padding, un-flipped and resized (bilinear) to each
       image's original size, as mmseg's ``postprocess_result`` does with logits, and per-image
       context (e.g. the value net's ``est_ece`` of Cal-SFDA), passed to the labeler as keyword
       arguments. The teacher runs in the segmentor's ``teacher_mode``: use ``'eval'`` for
       offline labelling. A labeler with ``set_round(r)`` is told the round first (growing
       class-balanced proportions).
    2. If ``model.pseudo_labeler`` has ``accumulate`` (and is not in ``mode='online'``), pass 1
       calls ``reset_stats()``, ``accumulate(probs)`` on every image and ``finalize()`` (which
       reduces over ranks); the labeler's finalised ``state_dict()`` is saved as ``stats.pt``.
    3. Pass 2 calls ``pseudo_labeler(probs)`` and writes ``<stem>.png`` (uint8, 255 = ignore) and
       ``<stem>_weight.png`` (uint8, weight * 255, rounded) per image, each atomically (temporary
       file + ``os.replace``), under ``<out_dir>/round_<r>/``.
    4. ``manifest.json`` is written last: the dataset's identity (type, data root, number of
       images, SHA-1 of the sorted image list), the round, ``num_classes``, the labeler's config,
       pseudo-label statistics (coverage, per-class pixels, accuracy when the label pipeline
       loads ground truth, for diagnostics only) and how many images each rank labelled.

    Then the train dataloader is rebuilt with the round's directory set in its ``LoadPseudoLabels``
    transform (rebuilt, so that no worker keeps the previous round's directory), the global random
    generators are seeded with ``runner.seed + r`` and the sampler with the shared seed ``+ r``, so
    that every round is reproducible on its own, and ``rounds[r]`` iterations train on target
    images and their labels; validation follows ``val_begin`` / ``val_interval`` as in
    ``IterBasedTrainLoop``.

    Interruptions lose nothing. ``identity.json`` (written first) and ``manifest.json`` must
    describe this run's labelling, or a ``ValueError`` names the directory and the mismatch. A
    complete directory (with a manifest) is reused as is. Without a manifest, images whose two
    files exist are skipped, and a saved ``stats.pt`` replaces pass 1, so the files equal those of
    an uninterrupted run. A run killed in round 0 before any checkpoint is restarted with the same
    command (it reuses what was labelled); afterwards, resume as usual (``--resume``, without
    ``load_from``): the round comes from the checkpoint's iteration, and a resumed round replays
    its data order up to that iteration. The loop keeps no state of its own.

    Under DDP the label dataloader's ``DefaultSampler`` is forced to ``shuffle=False,
    round_up=False``: every rank labels its own shard and each image is labelled exactly once
    (``out_dir`` must be a folder all ranks share). Rank 0 decides whether a directory is reused
    and broadcasts it; barriers separate labelling from the manifest and from training.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Config of the train dataloader. Its pipeline must contain
            ``LoadPseudoLabels`` (and pack with ``PackSegInputsWithWeights``).
        rounds (Sequence[int]): Training iterations of each round; ``max_iters = sum(rounds)``.
        label_dataloader (dict): Config of a dataloader over the whole target train set with a
            test-time pipeline (no random transforms), e.g. image + ``PackSegInputs``.
        out_dir (str, optional): Parent of the ``round_<r>`` directories. Defaults to
            ``<work_dir>/pseudo_labels``.
        max_iters (int, optional): Must equal ``sum(rounds)`` when given.
        val_begin (int): As in ``IterBasedTrainLoop``. Defaults to 1.
        val_interval (int): As in ``IterBasedTrainLoop``. Defaults to 1000.
        dynamic_intervals (list[tuple[int, int]], optional): As in ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[dict, DataLoader],
                 rounds: Sequence[int],
                 label_dataloader: dict,
                 out_dir: Optional[str] = None,
                 max_iters: Optional[int] = None,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if isinstance(rounds, int) or not rounds or any(int(n) != n or n <= 0 for n in rounds):
            raise ValueError(f'rounds must be a non-empty list of positive iteration counts, got '
                             f'{rounds!r}')
        self.rounds = [int(n) for n in rounds]
        self.round_starts = round_starts(self.rounds)
        if max_iters is not None and int(max_iters) != self.round_starts[-1]:
            raise ValueError(f'max_iters={max_iters} but the rounds {self.rounds} sum to '
                             f'{self.round_starts[-1]}: give rounds only')
        if not isinstance(dataloader, dict):
            raise TypeError('SelfTrainingLoop rebuilds the train dataloader every round: give it '
                            f'as a config dict, not a {type(dataloader).__name__}')
        if not isinstance(label_dataloader, dict):
            raise TypeError('label_dataloader must be a dataloader config dict')
        self._train_cfg = copy.deepcopy(dataloader)
        if _set_label_dir(self._train_cfg, None) == 0:
            raise ValueError('SelfTrainingLoop trains on the pseudo-labels it writes: the train '
                             "dataloader's pipeline needs a LoadPseudoLabels transform (and "
                             'PackSegInputsWithWeights to keep the weights)')
        self._label_cfg = copy.deepcopy(label_dataloader)
        # IterBasedTrainLoop.__init__ without its iterator: a round's iterator is made when the
        # round starts (workers created now would read a label directory that does not exist).
        BaseLoop.__init__(self, runner, self._train_cfg)
        self._max_iters = self.round_starts[-1]
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        self.dataloader_iterator = None
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)
        self.out_dir = out_dir if out_dir is not None else osp.join(runner.work_dir,
                                                                    'pseudo_labels')

    # ------------------------------------------------------------------ schedule
    def round_dir(self, r: int) -> str:
        """Directory of round ``r``'s pseudo-labels."""
        return osp.join(self.out_dir, f'round_{r}')

    def run(self):
        """Label, then train, round after round, from the round of ``runner.iter``."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        while self._iter < self._max_iters and not self.stop_training:
            r = round_at(self._iter, self.rounds)
            self.start_round(r)
            while self._iter < self.round_starts[r + 1] and not self.stop_training:
                self.runner.model.train()
                data_batch = next(self.dataloader_iterator)
                self.run_iter(data_batch)
                self._decide_current_val_interval()
                if (self.runner.val_loop is not None and self._iter >= self.val_begin
                        and (self._iter % self.val_interval == 0
                             or self._iter == self._max_iters)):
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def start_round(self, r: int) -> None:
        """Label round ``r`` (or reuse its files) and set up its dataloader at ``self._iter``."""
        label_dir = self.label_round(r)
        cfg = copy.deepcopy(self._train_cfg)
        _set_label_dir(cfg, label_dir)
        # The sampler seed must be the same on every rank (they shard one permutation).
        diff_rank_seed = self.runner._randomness_cfg.get('diff_rank_seed', False)
        shared_seed = self.runner.seed - (dist.get_rank() if diff_rank_seed else 0)
        set_random_seed(self.runner.seed + r)
        self.dataloader = self.runner.build_dataloader(cfg, seed=shared_seed + r)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        skip = self._iter - self.round_starts[r]
        if skip:
            print_log(f'round {r}: advancing its dataloader {skip} steps to the resumed iteration '
                      f'{self._iter}', logger='current', level=logging.WARNING)
            for _ in range(skip):
                next(self.dataloader_iterator)

    # ------------------------------------------------------------------ labelling
    def _model(self):
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        if getattr(model, 'pseudo_labeler', None) is None or not callable(
                getattr(model, 'teacher_probs', None)):
            raise TypeError(f'SelfTrainingLoop labels with model.teacher_probs() and '
                            f'model.pseudo_labeler: {type(model).__name__} lacks them (use '
                            'SelfTrainingSegmentor with a pseudo_labeler)')
        return model

    def _build_label_dataloader(self) -> DataLoader:
        cfg = copy.deepcopy(self._label_cfg)
        sampler = cfg.get('sampler') or dict(type='DefaultSampler')
        if isinstance(sampler, dict) and sampler.get('type') in ('DefaultSampler',
                                                                  'mmengine.DefaultSampler'):
            sampler.update(shuffle=False, round_up=False)  # every image exactly once
        cfg['sampler'] = sampler
        return self.runner.build_dataloader(cfg, seed=self.runner.seed)

    def _identity(self, dataset, r: int, model) -> dict:
        paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
        stems = [pseudo_label_stem(p) for p in paths]
        if len(set(stems)) != len(stems):
            dup = sorted({s for s in stems if stems.count(s) > 1})[:5]
            raise ValueError(f'pseudo-label files are named by the image file stem, but the label '
                             f'dataset has several images named {dup}')
        clash = sorted(set(stems) & {s + WEIGHT_SUFFIX for s in stems})[:5]
        if clash:
            raise ValueError(f'images {clash} would overwrite the weight files of other images '
                             f'(<stem>{WEIGHT_SUFFIX}.png)')
        root = getattr(dataset, 'data_root', None) or None
        names = sorted(osp.relpath(p, root) if root else p for p in paths)
        labeler_cfg = (self.runner.cfg.get('model') or {}).get('pseudo_labeler')
        if labeler_cfg is None:
            labeler_cfg = dict(type=type(model.pseudo_labeler).__name__)
        return _jsonable(dict(
            format=FORMAT_VERSION,
            round=r,
            dataset=dict(type=type(dataset).__name__,
                         data_root=osp.abspath(root) if root else None,
                         num_images=len(paths),
                         list_sha1=hashlib.sha1('\n'.join(names).encode()).hexdigest()),
            num_classes=int(model.num_classes),
            labeler=labeler_cfg))

    @staticmethod
    def _check_identity(found: dict, expected: dict, path: str) -> None:
        diffs = []
        for key in IDENTITY_KEYS:
            a, b = found.get(key), expected[key]
            if key == 'dataset' and isinstance(a, dict):
                diffs += [f'dataset.{k}: {a.get(k)!r} there, {v!r} in this run'
                          for k, v in b.items() if a.get(k) != v]
            elif a != b:
                diffs.append(f'{key}: {a!r} there, {b!r} in this run')
        if diffs:
            raise ValueError(f'pseudo-label directory {osp.dirname(path)} was written for another '
                             f'labelling ({osp.basename(path)}): ' + '; '.join(diffs) +
                             '. Delete the directory to relabel, or set the loop\'s out_dir.')

    def _inspect(self, label_dir: str, identity: dict) -> Tuple[str, bool]:
        """Rank 0: ``('complete' | 'partial', has_stats)``; creates the directory if needed."""
        manifest = osp.join(label_dir, MANIFEST)
        if osp.isfile(manifest):
            with open(manifest) as f:
                self._check_identity(json.load(f), identity, manifest)
            return 'complete', True
        ident = osp.join(label_dir, IDENTITY)
        if osp.isfile(ident):
            with open(ident) as f:
                self._check_identity(json.load(f), identity, ident)
        else:
            os.makedirs(label_dir, exist_ok=True)
            _write_json(ident, identity)
        return 'partial', osp.isfile(osp.join(label_dir, STATS))

    def label_round(self, r: int) -> str:
        """Write (or reuse) round ``r``'s pseudo-labels; returns the round directory."""
        model = self._model()
        labeler = model.pseudo_labeler
        if model.num_classes > IGNORE_INDEX:
            raise ValueError(f'{model.num_classes} classes do not fit uint8 label files with '
                             f'{IGNORE_INDEX} = ignore')
        label_dir = self.round_dir(r)
        if callable(getattr(labeler, 'set_round', None)):
            labeler.set_round(r)
        loader = self._build_label_dataloader()
        _require_images(loader.dataset, 'SelfTrainingLoop: the target set to label')
        identity = self._identity(loader.dataset, r, model)
        verdict = [None]
        if dist.is_main_process():
            try:
                verdict = [self._inspect(label_dir, identity)]
            except (ValueError, OSError) as e:  # raised on every rank, not only here
                verdict = [('error', e)]
        dist.broadcast_object_list(verdict)
        state, detail = verdict[0]
        if state == 'error':
            raise detail
        if state == 'complete':
            print_log(f'round {r}: reusing the pseudo-labels in {label_dir}', logger='current')
            return label_dir

        needs_stats = callable(getattr(labeler, 'accumulate', None)) and \
            getattr(labeler, 'mode', 'offline') != 'online'
        if getattr(model, 'teacher_mode', 'eval') == 'train':
            print_log('SelfTrainingLoop: the teacher labels in train mode (teacher_mode="train"): '
                      'its BN layers use and update batch statistics, so the labels depend on the '
                      'batching; offline labelling normally uses teacher_mode="eval"',
                      logger='current', level=logging.WARNING)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                if needs_stats:
                    self._dataset_statistics(model, loader, label_dir, r, reuse=detail)
                stats, done, reused = self._write_labels(model, loader, label_dir, r)
        finally:
            model.train(was_training)
        dist.barrier()  # every shard is written
        self._write_manifest(label_dir, r, identity, labeler, stats, done, reused)
        dist.barrier()  # the manifest is written before anyone trains
        return label_dir

    def _write_manifest(self, label_dir: str, r: int, identity: dict, labeler,
                        stats: Dict[str, Tensor], done: int, reused: int) -> None:
        """Reduce the shards' statistics; rank 0 writes ``manifest.json``, the round is complete."""
        for v in stats.values():
            dist.all_reduce(v)
        per_rank = dist.all_gather_object(done)
        reused_total = sum(dist.all_gather_object(reused))
        if not dist.is_main_process():
            return
        for tmp in glob.glob(osp.join(label_dir, '*.tmp*')):  # left by a killed run
            os.remove(tmp)
        summary = self._summarise(stats)
        _write_json(osp.join(label_dir, MANIFEST), dict(
            identity,
            ignore_index=IGNORE_INDEX,
            files=dict(label='<stem>.png', weight=f'<stem>{WEIGHT_SUFFIX}.png'),
            weight_encoding=f'uint8, weight = value / {WEIGHT_SCALE}',
            images_per_rank=per_rank,
            reused_images=reused_total,
            stats=summary,
            labeler_state={k: v.tolist() for k, v in labeler.state_dict().items()
                           if v.numel() <= 4096}))
        acc = '' if summary['accuracy'] is None else \
            f", accuracy {100 * summary['accuracy']:.1f}%"
        print_log(f'round {r}: labelled {sum(per_rank)} images ({reused_total} reused) in '
                  f"{label_dir}: coverage {100 * summary['coverage']:.1f}%{acc}",
                  logger='current')

    def _probs(self, model, data) -> Tuple[List[Tensor], List[dict], list]:
        """Teacher outputs of a label batch: probabilities, each [C, h, w] at its image's
        original size, and each image's labeler context (values indexed by image)."""
        data = model.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        metas = [s.metainfo for s in samples]
        if callable(getattr(model, 'teacher_outputs', None)):
            probs, context = model.teacher_outputs(inputs, metas)
        else:
            probs, context = model.teacher_probs(inputs, metas), {}
        contexts = [{k: v[i:i + 1] for k, v in context.items()} for i in range(len(samples))]
        align_corners = bool(getattr(model, 'align_corners', False))
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
        return out, contexts, samples

    @staticmethod
    def _batched(probs: List[Tensor], contexts: List[dict]) -> List[Tuple[Tensor, dict]]:
        """``(probs [B, C, H, W], context)`` for the whole batch if all images have one size,
        else one ``([1, C, h, w], context)`` per image."""
        if all(p.shape == probs[0].shape for p in probs):
            return [(torch.stack(probs), {k: torch.cat([c[k] for c in contexts])
                                          for k in contexts[0]})]
        return [(p[None], c) for p, c in zip(probs, contexts)]

    def _progress(self, loader, what: str):
        if not dist.is_main_process():
            return None
        print_log(what, logger='current')
        return ProgressBar(len(loader.sampler) if hasattr(loader.sampler, '__len__') else
                           len(loader.dataset))

    @staticmethod
    def _end_progress(bar) -> None:
        if bar is not None:  # the bar leaves its line open
            bar.file.write('\n')
            bar.file.flush()

    def _dataset_statistics(self, model, loader, label_dir: str, r: int, reuse: bool) -> None:
        """Pass 1 of a two-pass labeler: dataset statistics, finalised and saved (or reloaded)."""
        labeler = model.pseudo_labeler
        path = osp.join(label_dir, STATS)
        if reuse:
            saved = torch.load(path, map_location='cpu', weights_only=True)
            labeler.load_state_dict(saved['labeler_state'])
            print_log(f'round {r}: reusing the labeler statistics of {path}', logger='current')
            return
        bar = self._progress(loader, f'round {r}: pass 1/2, labeler statistics over '
                             f'{len(loader.dataset)} target images')
        labeler.reset_stats()
        for data in loader:
            probs, contexts, _ = self._probs(model, data)
            for p, context in self._batched(probs, contexts):
                labeler.accumulate(p, **context)
            if bar is not None:
                bar.update(len(probs))
        self._end_progress(bar)
        labeler.finalize()
        if dist.is_main_process():
            buf = io.BytesIO()
            torch.save(dict(labeler_state=labeler.state_dict()), buf)
            atomic_write(path, buf.getvalue())
        dist.barrier()

    def _write_labels(self, model, loader, label_dir: str, r: int):
        """Pass 2: label this rank's shard; images whose files exist are read back instead."""
        labeler = model.pseudo_labeler
        passes = '2/2' if osp.isfile(osp.join(label_dir, STATS)) else '1/1'
        bar = self._progress(loader, f'round {r}: pass {passes}, writing pseudo-labels of '
                             f'{len(loader.dataset)} target images to {label_dir}')
        num_classes = model.num_classes
        # The same keys on every rank (ground truth counts stay 0 without ground truth).
        totals: Dict[str, Tensor] = dict(
            pixels=torch.zeros((), dtype=torch.float64),
            **{k: torch.zeros(num_classes, dtype=torch.float64)
               for k in ('labelled', 'weight', 'evaluated', 'correct')})
        done = reused = 0
        for data in loader:
            paths = [s.img_path for s in data['data_samples']]
            todo = [not all(osp.isfile(f) for f in pseudo_label_paths(label_dir, p))
                    for p in paths]
            samples = data['data_samples']
            fresh = {}
            if any(todo):
                probs, contexts, samples = self._probs(model, data)
                outs = [labeler(p, **context) for p, context in self._batched(probs, contexts)]
                labels = [lab for o in outs for lab in o.labels]
                weights = [w for o in outs for w in o.weights]
                for i, p in enumerate(paths):
                    if todo[i]:
                        write_pseudo_label(label_dir, p, labels[i], weights[i])
                        fresh[i] = (labels[i], weights[i])
            for i, p in enumerate(paths):
                if i in fresh:
                    labels_i, weights_i = fresh[i]
                else:
                    label_path, weight_path = pseudo_label_paths(label_dir, p)
                    labels_i = torch.from_numpy(read_uint8_png(label_path)).long()
                    weights_i = torch.from_numpy(read_uint8_png(weight_path)).float() / WEIGHT_SCALE
                    reused += 1
                gt = samples[i].gt_sem_seg.data[0] if 'gt_sem_seg' in samples[i] else None
                if gt is not None and gt.shape != labels_i.shape:
                    gt = None
                st = pseudo_label_stats(
                    PseudoLabels(labels_i[None].cpu(), weights_i[None].float().cpu()),
                    num_classes, None if gt is None else gt[None].cpu())
                for k, v in st.items():
                    totals[k] += v
                done += 1
            if bar is not None:
                bar.update(len(paths))
        self._end_progress(bar)
        return totals, done, reused

    @staticmethod
    def _summarise(stats: Dict[str, Tensor]) -> dict:
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
