"""Pairs of an easy and a hard target image (ATP's Propagate step), from an entropy split."""
import copy
import os.path as osp

import numpy as np
from mmseg.registry import DATASETS
from torch.utils.data import Dataset

from ..engine.entropy_split import EASY, HARD, check_split


@DATASETS.register_module()
class EasyHardPairDataset(Dataset):
    """Item ``i`` is ``{'easy': easy[j], 'target': hard[i]}``, ``j`` drawn uniformly.

    Both halves are the same target dataset (``dataset``) restricted by the split files in
    ``split_dir`` (mmseg's ``ann_file``), written by ``tools/entropy_rank.py`` or
    :class:`~mmsfda.engine.loops.EntropySplitLoop`; the split is checked against the dataset's
    image folder first (a split of another dataset is an error). Only target images are read:
    a source-free run may build it. The hard image is the ``target`` branch of the batch
    (pseudo-labelled and mixed into), the easy one the ``easy`` branch.

    Args:
        dataset (dict): Config of the target train dataset (its ``ann_file`` is replaced).
        split_dir (str): Folder with ``easy_split.txt``, ``hard_split.txt`` and
            ``split_meta.json``.
    """

    def __init__(self, dataset: dict, split_dir: str = None):
        if split_dir is None:
            raise ValueError('EasyHardPairDataset needs split_dir (set by EntropySplitLoop, or '
                             'train_dataloader.dataset.split_dir=<a folder written by '
                             'tools/entropy_rank.py>)')
        full = DATASETS.build(dict(copy.deepcopy(dataset), lazy_init=True))
        img_dir, suffix = full.data_prefix['img_path'], full.img_suffix
        check_split(split_dir, img_dir, suffix)
        self.easy = DATASETS.build(dict(copy.deepcopy(dataset),
                                        ann_file=osp.abspath(osp.join(split_dir, EASY))))
        self.hard = DATASETS.build(dict(copy.deepcopy(dataset),
                                        ann_file=osp.abspath(osp.join(split_dir, HARD))))
        self.split_dir = split_dir

    @property
    def metainfo(self):
        return self.hard.metainfo

    def __len__(self):
        return len(self.hard)

    def __getitem__(self, idx):
        return dict(easy=self.easy[np.random.randint(len(self.easy))], target=self.hard[idx])
