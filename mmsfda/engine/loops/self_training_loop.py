"""Round-based (offline) self-training: label the whole target set, then train on the labels.

CBST (Zou et al., ECCV 2018), Cal-SFDA (arXiv:2308.03003) and DiGA's self-training stage alternate
two steps: the current model labels every target train image (class-balanced thresholds need the
statistics of the whole set, hence "offline"), then the model trains for a while on those fixed
labels. :class:`SelfTrainingLoop` runs that schedule inside mmengine's runner; the model is a
:class:`~mmsfda.models.segmentors.SelfTrainingSegmentor` with ``pseudo_labels_from='dataset'``.
"""
import copy
import logging
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmengine import dist
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop, set_random_seed
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from mmseg.registry import LOOPS, TRANSFORMS
from torch.utils.data import DataLoader

from ...datasets.transforms.load_pseudo_labels import LoadPseudoLabels
from ..pseudo_labeling import LabelingTTA, build_tta, label_dataloader_cfg, label_dataset


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

    The loop only sequences rounds. At the start of round ``r`` (``rounds[r]`` iterations; the
    round of ``runner.iter``, so a resumed run picks up where it stopped):

    1. :func:`~mmsfda.engine.pseudo_labeling.label_dataset` labels every image of
       ``label_dataloader`` with the current model into ``<out_dir>/round_<r>/`` (the labeler's
       round, two passes for labelers with dataset statistics, optional test-time augmentation
       ``label_tta``, atomic files, a manifest keyed by the hash of what produced them, sharded
       over ranks). A complete directory with the same hash is reused (and the labeler gets the
       state the round was labelled with), a partial one is resumed, any other is relabelled.
    2. The train dataloader is rebuilt with the round's directory set in its ``LoadPseudoLabels``
       transform (rebuilt, so that no worker keeps the previous round's directory), the global
       random generators are seeded with ``runner.seed + r`` and the sampler with the shared seed
       ``+ r``, so that every round is reproducible on its own, and ``rounds[r]`` iterations train
       on target images and their labels; validation follows ``val_begin`` / ``val_interval`` as
       in ``IterBasedTrainLoop``.

    Interruptions lose nothing: a run killed in round 0 before any checkpoint is restarted with
    the same command (it reuses what was labelled); afterwards, resume as usual (``--resume``):
    the round comes from the checkpoint's iteration, and a resumed round replays its data order
    up to that iteration. The loop keeps no state of its own.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Config of the train dataloader. Its pipeline must contain
            ``LoadPseudoLabels`` (and pack with ``PackSegInputsWithWeights``).
        rounds (Sequence[int]): Training iterations of each round; ``max_iters = sum(rounds)``.
        label_dataloader (dict): Config of a dataloader over the whole target train set with a
            test-time pipeline (no random transforms), e.g. image + ``PackSegInputs``. Its
            ``DefaultSampler`` is forced to ``shuffle=False, round_up=False`` (each image once).
        out_dir (str, optional): Parent of the ``round_<r>`` directories (a folder all ranks
            share). Defaults to ``<work_dir>/pseudo_labels``.
        label_tta (dict, optional): Test-time augmentation of the labelling, the arguments of
            :class:`~mmsfda.engine.pseudo_labeling.LabelingTTA` (``scales``, ``fusion``,
            ``flip``, ``crop_size``, ``stride``). Defaults to None (one plain forward).
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
                 label_tta: Union[None, dict, LabelingTTA] = None,
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
        self.label_tta = build_tta(label_tta)  # checked now, not after a round of training
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
    def label_round(self, r: int) -> str:
        """Write (or reuse) round ``r``'s pseudo-labels with :func:`label_dataset`; returns the
        round directory.

        Resumed after the round's first iteration, the model has trained since it labelled the
        round: the complete directory is reused without comparing the weights' hash (a resumed
        checkpoint past a round's start exists only once its labels are complete)."""
        loader = self.runner.build_dataloader(label_dataloader_cfg(self._label_cfg),
                                              seed=self.runner.seed)
        pipeline = (self._label_cfg.get('dataset') or {}).get('pipeline')
        mid_round = self._iter > self.round_starts[r]
        manifest = label_dataset(self.runner.model, loader, self.round_dir(r),
                                 tta=self.label_tta, round_idx=r,
                                 identity_extra=dict(pipeline=pipeline),
                                 check_weights=not mid_round)
        if mid_round and not manifest['reused']:
            print_log(f'round {r}: resumed at iteration {self._iter}, but the labels the round '
                      f'trained on were not in {self.round_dir(r)}: relabelled with the resumed '
                      'weights, so this run no longer equals an uninterrupted one',
                      logger='current', level=logging.WARNING)
        return self.round_dir(r)
