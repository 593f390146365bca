"""A dataset of (source, target) sample pairs for UDA training."""
import os.path as osp
from typing import Optional

import numpy as np
from mmseg.registry import DATASETS
from torch.utils.data import Dataset

from .rare_class_sampler import RareClassSampler


@DATASETS.register_module()
class DomainPairDataset(Dataset):
    """Pairs every source sample with an independently drawn target sample.

    Item ``i`` is ``{'source': source[i], 'target': target[j]}`` with ``j`` uniform over the target set
    (DAFormer's UDADataset walks the |S|x|T| product instead; independent draws give the same
    marginals with a length of |S|). With ``rare_class_sampling`` the source sample ignores ``i``:
    a rare class and a file containing it are drawn, and the crop is retried until it holds the class
    (DAFormer, arXiv:2111.14887, Sec. 3.3). ``source=None`` gives target-only items
    (``{'target': ...}``).

    Args:
        source (dict, optional): Config of the source dataset (labelled).
        target (dict): Config of the target dataset (its labels, if loaded, are never trained on).
        rare_class_sampling (dict, optional): :class:`RareClassSampler` arguments; ``stats_file``
            defaults to ``<source data_root>/sample_class_stats.json``.
    """

    def __init__(self, target: dict, source: Optional[dict] = None,
                 rare_class_sampling: Optional[dict] = None):
        self.target = DATASETS.build(target)
        self.source = DATASETS.build(source) if source is not None else None
        if len(self.target) == 0:
            raise ValueError(f'the target dataset {target.get("type")} at '
                             f'{target.get("data_root")} has no samples')
        self.rcs = None
        if rare_class_sampling is not None:
            if self.source is None:
                raise ValueError('rare_class_sampling samples the source set, but source is None')
            rcs = dict(rare_class_sampling)
            rcs.setdefault('stats_file', osp.join(self.source.data_root or '',
                                                  'sample_class_stats.json'))
            self.rcs = RareClassSampler(**rcs)
            self._index_of_file = {}
            for i in range(len(self.source)):
                seg = self.source.get_data_info(i)['seg_map_path']
                self._index_of_file[osp.normpath(seg)] = i
                self._index_of_file[osp.normpath(osp.relpath(seg, self.source.data_root))] = i

    @property
    def metainfo(self):
        return self.target.metainfo

    def __len__(self):
        return len(self.source) if self.source is not None else len(self.target)

    def _source_item(self, idx):
        if self.rcs is None:
            return self.source[idx]
        cls, file = self.rcs.sample()
        key = osp.normpath(file)
        if key not in self._index_of_file:
            raise KeyError(f'{self.rcs.stats_file} names {file}, which is not in the source dataset '
                           f'at {self.source.data_root}: were the statistics written for this split?')
        src_idx = self._index_of_file[key]
        for _ in range(self.rcs.max_retries):
            item = self.source[src_idx]
            label = item['data_samples'].gt_sem_seg.data.numpy()[0]
            if self.rcs.crop_ok(label, cls):
                break
        return item

    def __getitem__(self, idx):
        item = dict(target=self.target[np.random.randint(len(self.target))])
        if self.source is not None:
            item['source'] = self._source_item(idx)
        return item
