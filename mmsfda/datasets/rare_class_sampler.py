"""Rare Class Sampling (RCS) of DAFormer (Hoyer et al., CVPR 2022, arXiv:2111.14887, Sec. 3.3)."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np


class RareClassSampler:
    """Draws source samples so that rare classes are seen often.

    From the per-file class pixel counts the dataset converters write (``sample_class_stats.json``),
    the source class frequency ``f_c`` gives the class sampling probability
    ``P(c) = softmax((1 - f_c) / T)``. A sample is a class ``c ~ P`` and then a file drawn uniformly
    from the files with more than ``min_pixels`` pixels of ``c``.

    Args:
        stats_file (str): Path of ``sample_class_stats.json``: a list of ``{"file": <label path>,
            "<class id>": <pixel count>, ...}``.
        temperature (float): ``T``; smaller favours rare classes more. Default 0.01.
        min_pixels (int): A file counts for class ``c`` when it has more than this many pixels of it.
            DAFormer uses 3000 at 512x512 crops of ~1280x720 images; scale it with the image area.
        min_crop_ratio (float): The dataset re-crops until the crop holds more than
            ``min_pixels * min_crop_ratio`` pixels of ``c`` (at most ``max_retries`` times).
        max_retries (int): Re-crop attempts. Default 10.
        seed (int, optional): Seed of this sampler's generator; None draws from numpy's global RNG
            (seeded per dataloader worker by mmengine; in the main process, the dataloader's own
            stream, see :mod:`mmsfda.compat`). A seeded generator is derived per process, rank
            and dataloader worker from ``(seed, rank, worker id)``: the copies of the dataset in
            the workers would otherwise all draw the same samples.
    """

    def __init__(self, stats_file: str, temperature: float = 0.01, min_pixels: int = 3000,
                 min_crop_ratio: float = 0.5, max_retries: int = 10, seed: Optional[int] = None):
        if not osp.isfile(stats_file):
            raise FileNotFoundError(
                f'rare class sampling needs {stats_file}; the dataset converters '
                '(tools/dataset_converters/*.py, tools/make_toy_data.py) write it')
        with open(stats_file) as f:
            records = json.load(f)
        if not isinstance(records, list) or not records:
            raise ValueError(f'{stats_file}: expected a non-empty list of per-file class counts')
        self.stats_file = stats_file
        self.temperature = temperature
        self.min_pixels = min_pixels
        self.min_crop_pixels = min_pixels * min_crop_ratio
        self.max_retries = max_retries
        self.seed = seed
        self._rng, self._rng_owner = None, None
        totals: Dict[int, float] = {}
        self.files_with_class: Dict[int, List[str]] = {}
        for rec in records:
            for key, count in rec.items():
                if key == 'file':
                    continue
                c = int(key)
                totals[c] = totals.get(c, 0) + count
                if count > min_pixels:
                    self.files_with_class.setdefault(c, []).append(rec['file'])
        self.classes = sorted(c for c in totals if c in self.files_with_class)
        if not self.classes:
            raise ValueError(f'{stats_file}: no class has a file with more than min_pixels='
                             f'{min_pixels} pixels; lower min_pixels')
        freq = np.array([totals[c] for c in self.classes], dtype=np.float64)
        freq /= sum(totals.values())
        logits = (1 - freq) / temperature
        prob = np.exp(logits - logits.max())
        self.class_prob = prob / prob.sum()

    @property
    def rng(self):
        """The generator of this process (numpy's global one without a seed)."""
        if self.seed is None:
            return np.random
        owner = os.getpid()
        if self._rng_owner != owner:  # first use in this process (a new worker)
            from mmengine.dist import get_rank
            from torch.utils.data import get_worker_info
            info = get_worker_info()
            self._rng = np.random.default_rng(
                [self.seed, get_rank(), info.id + 1 if info is not None else 0])
            self._rng_owner = owner
        return self._rng

    def sample(self) -> Tuple[int, str]:
        """A class and a label file (as written in the stats file) that contains it."""
        c = self.classes[self.rng.choice(len(self.classes), p=self.class_prob)]
        files = self.files_with_class[c]
        return c, files[self.rng.choice(len(files))]

    def crop_ok(self, label: np.ndarray, cls: int) -> bool:
        """Whether a crop's label [H, W] holds enough pixels of the sampled class."""
        return int((label == cls).sum()) > self.min_crop_pixels
