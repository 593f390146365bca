"""Iteration-based training on an easy/hard split of the target set, ranked by the loaded model.

ATP's Propagate step (arXiv:2106.11653) trains on two streams of target images, the *easy* ones
(lowest prediction entropy of the Teach model) and the *hard* rest. The ranking needs the model
the stage starts from, which is only loaded when training begins (``load_from``), so this loop
ranks at the start of :meth:`run`, before the train dataloader is built:

1. if ``<split_dir>/split_meta.json`` does not exist, every image of ``rank_dataloader`` is
   scored with the current model (:func:`~mmsfda.engine.entropy_split.image_entropy_scores`,
   sharded over ranks and gathered) and the split files are written;
2. ``split_dir`` is set in the train dataloader's :class:`EasyHardPairDataset`, which checks the
   split against its image folder, and training runs as in ``IterBasedTrainLoop``.

A resumed run finds the split files and reuses them (it never re-ranks with trained weights), so
resuming is exact. The loop keeps no other state.
"""
import copy
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmengine import dist
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from mmseg.registry import LOOPS

from ..entropy_split import image_entropy_scores, split_exists, write_split
from ..pseudo_labeling import label_dataloader_cfg


def _set_split_dir(cfg, split_dir: str) -> int:
    """Set ``split_dir`` of every ``EasyHardPairDataset`` in a (nested) config; returns how many."""
    found = 0
    if isinstance(cfg, dict):
        if cfg.get('type') in ('EasyHardPairDataset', 'mmseg.EasyHardPairDataset'):
            cfg['split_dir'] = split_dir
            found += 1
        for v in cfg.values():
            found += _set_split_dir(v, split_dir)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            found += _set_split_dir(v, split_dir)
    return found


class _PendingDataloader:
    """Stands for the train dataloader until :meth:`EntropySplitLoop.run` builds it.

    mmengine reads ``len(train_dataloader)`` when it builds the parameter schedulers (the epoch
    length, used by epoch-based schedules only); before the split exists it is unknown, so
    epoch-based schedules cannot be used with this loop (``by_epoch=False``, as every
    iteration-based mmsfda schedule)."""
    dataset = None

    def __len__(self) -> int:
        return 1


@LOOPS.register_module()
class EntropySplitLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that first writes (or reuses) an entropy easy/hard split.

    Args:
        runner (Runner): The runner.
        dataloader (dict): Config of the train dataloader; its dataset must be (or contain) an
            ``EasyHardPairDataset`` (``split_dir`` is set by the loop).
        max_iters (int): Training iterations.
        rank_dataloader (dict): Test-time dataloader over the target train set (each image once).
        easy_ratio (float): lambda, the easy fraction. Defaults to 0.3 (the public code).
        split_dir (str, optional): Where the split files are. Defaults to
            ``<work_dir>/entropy_split``.
        val_begin, val_interval, dynamic_intervals: As in ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[dict, object],
                 max_iters: int,
                 rank_dataloader: dict,
                 easy_ratio: float = 0.3,
                 split_dir: Optional[str] = None,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if not isinstance(dataloader, dict):
            raise TypeError('EntropySplitLoop builds the train dataloader after the ranking: give '
                            f'it as a config dict, not a {type(dataloader).__name__}')
        self._train_cfg = copy.deepcopy(dataloader)
        if _set_split_dir(self._train_cfg, None) == 0:
            raise ValueError('EntropySplitLoop: the train dataloader has no EasyHardPairDataset '
                             '(train_dataloader.dataset.type must be EasyHardPairDataset)')
        if not 0.0 < easy_ratio < 1.0:
            raise ValueError(f'train_cfg.easy_ratio must be in (0, 1), got {easy_ratio}')
        self._rank_cfg = copy.deepcopy(rank_dataloader)
        self.easy_ratio = easy_ratio
        # IterBasedTrainLoop.__init__ without its dataloader: that needs the split.
        self._runner = runner
        self.dataloader = _PendingDataloader()
        self.dataloader_iterator = None
        self._max_iters = int(max_iters)
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)
        self.split_dir = split_dir if split_dir is not None else osp.join(runner.work_dir,
                                                                          'entropy_split')

    def make_split(self) -> None:
        """Rank the target set with the current model unless the split files exist."""
        if split_exists(self.split_dir):
            print_log(f'easy/hard split: reusing {self.split_dir}', logger='current')
            return
        loader = self.runner.build_dataloader(label_dataloader_cfg(self._rank_cfg),
                                              seed=self.runner.seed)
        model = self.runner.model
        model = getattr(model, 'module', model)
        scores = {}
        for part in dist.all_gather_object(image_entropy_scores(model, loader)):
            scores.update(part)
        img_dir, suffix = loader.dataset.data_prefix['img_path'], loader.dataset.img_suffix
        meta = write_split(self.split_dir, scores, self.easy_ratio, img_dir, suffix)
        dist.barrier()
        print_log(f'easy/hard split: {meta["num_easy"]} easy of {meta["num_images"]} images '
                  f'(lambda {self.easy_ratio}) written to {self.split_dir}', logger='current')

    def run(self):
        """Split (or reuse the split), build the dataloader, then train."""
        self.make_split()
        cfg = copy.deepcopy(self._train_cfg)
        _set_split_dir(cfg, self.split_dir)
        self.dataloader = self.runner.build_dataloader(cfg, seed=self.runner.seed)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        return super().run()
