"""UPLR's soft-balance sampling of source images toward the target's uncertain classes
(Wang et al., ICCV 2021, the poster's formula U2)."""
import json
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

__all__ = ['SoftBalanceSampler', 'soft_balance_weights', 'read_class_counts']


def read_class_counts(stats_file: str, files: Sequence[str], num_classes: int,
                      root: Optional[str] = None) -> np.ndarray:
    """Per-image class pixel counts [N, C] from ``sample_class_stats.json`` (the file rare-class
    sampling reads, see :mod:`mmsfda.datasets.class_stats`), in the order of ``files``.

    Args:
        stats_file (str): Path of ``sample_class_stats.json``.
        files (Sequence[str]): The label path of every dataset sample, in dataset order.
        num_classes (int): C.
        root (str, optional): The dataset's data root; the file's paths may be relative to it.

    Raises:
        FileNotFoundError, ValueError: missing file, a dataset image without an entry, or a class
            id outside [0, C) (names the file and the key).
    """
    if not osp.isfile(stats_file):
        raise FileNotFoundError(f'soft-balance sampling needs {stats_file}; the dataset converters '
                                '(tools/dataset_converters/*.py, tools/make_toy_data.py) write it')
    with open(stats_file) as f:
        records = json.load(f)
    if not isinstance(records, list) or not records:
        raise ValueError(f'{stats_file}: expected a non-empty list of per-file class counts')
    by_file: Dict[str, dict] = {}
    for rec in records:
        by_file[osp.normpath(rec['file'])] = rec
    counts = np.zeros((len(files), num_classes), dtype=np.float64)
    for i, f in enumerate(files):
        rec = by_file.get(osp.normpath(f))
        if rec is None and root:
            rec = by_file.get(osp.normpath(osp.relpath(f, root)))
        if rec is None:
            raise ValueError(f'{stats_file} has no entry for {f}: were the statistics written '
                             'for this split?')
        for key, n in rec.items():
            if key == 'file':
                continue
            c = int(key)
            if not 0 <= c < num_classes:
                raise ValueError(f'{stats_file}: {rec["file"]} has class key {key!r}, outside '
                                 f'[0, {num_classes}): statistics of another label set?')
            counts[i, c] = n
    return counts


def soft_balance_weights(counts: np.ndarray, uncertain: Sequence[int], lam: float = 0.5,
                         alpha: float = 10.0, mu: Optional[float] = None,
                         floor: float = 0.1) -> np.ndarray:
    """UPLR's sampling weight of every source image (poster, formula U2).

    * class prior ``p_c = N_c^lam / sum_c' N_c'^lam / N_c`` from the source pixel counts N_c;
    * image score ``p_i = sum_{c in S_k, present in i} N_c(i)^lam / sum_{c' in S_k, present}
      N_c'(i)^lam * p_c`` (0 for an image without an S_k class);
    * weight ``floor + sigmoid(alpha (p_i / max_i p_i - mu))``.

    Reconstruction ([U], documented in configs/uplr/README.md): ``p_i`` is divided by its maximum
    over the source set before the sigmoid, so that ``alpha`` and ``mu`` are on a scale that does
    not depend on the image size (raw ``p_i`` are ~1e-7 for Cityscapes-size sets).

    Args:
        counts (np.ndarray): [N, C] per-image class pixel counts.
        uncertain (Sequence[int]): ``S_k``, class ids.
        lam (float): The smoothing power lambda in (0, 1].
        alpha (float): Sigmoid slope.
        mu (float, optional): Sigmoid centre on the normalised score; None: its median.
        floor (float): Every image keeps at least this weight (the poster's 0.1).

    Returns:
        np.ndarray: [N] float64 weights (unnormalised).
    """
    if not 0 < lam <= 1:
        raise ValueError(f'lam must be in (0, 1], got {lam}')
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(0)
    present = total > 0
    powered = np.where(present, total, 0.0) ** lam
    prior = np.where(present, powered / powered.sum() / np.maximum(total, 1), 0.0)  # [C]
    s = np.zeros(counts.shape[1], dtype=bool)
    s[list(uncertain)] = True
    per = np.where(s[None] & (counts > 0), counts, 0.0) ** lam  # [N, C], 0 outside S_k
    norm = per.sum(1, keepdims=True)
    score = np.where(norm[:, 0] > 0, (per / np.maximum(norm, 1e-300) * prior[None]).sum(1), 0.0)
    top = score.max()
    score = score / top if top > 0 else score
    centre = float(np.median(score)) if mu is None else float(mu)
    return floor + 1.0 / (1.0 + np.exp(-alpha * (score - centre)))


@DATA_SAMPLERS.register_module()
class SoftBalanceSampler(Sampler):
    """An infinite, seeded sampler that draws source images with probability proportional to
    :func:`soft_balance_weights` (UPLR's soft-balance sampling).

    The uncertain classes ``S_k`` come from the target at the start of each stage (a
    :class:`~mmsfda.engine.hooks.ClassUncertaintyHook` computes them with the current model and
    calls :meth:`set_uncertain_classes`); until then every image has the same weight. The per-image
    class counts are read once from the ``sample_class_stats.json`` that rare-class sampling reads.

    Determinism and resume: the index stream is a function of ``(seed, weights)`` only: chunk
    ``e`` of ``ceil(N / world) * world`` indices is drawn with replacement by a generator seeded
    with ``seed + e``; rank r takes every world-th index from r (each rank draws its share of
    the same global sequence). A resumed run restores the weights before the loop replays the
    sampler (the hook's checkpoint entry), so it draws the same indices.

    Args:
        dataset: The training dataset: a :class:`DomainPairDataset` (its ``source`` is sampled;
            item ``i`` is source image ``i``) or a labelled dataset.
        stats_file (str, optional): Default ``<source data_root>/sample_class_stats.json``.
        lam, alpha, mu, floor: See :func:`soft_balance_weights` (lam 0.5, alpha 10, mu None
            = median, floor 0.1; all [U] but the floor).
        seed (int, optional): None: a seed shared by all ranks (mmengine's ``sync_random_seed``).
    """

    def __init__(self, dataset, stats_file: Optional[str] = None, lam: float = 0.5,
                 alpha: float = 10.0, mu: Optional[float] = None, floor: float = 0.1,
                 seed: Optional[int] = None):
        source = getattr(dataset, 'source', None) or dataset
        if getattr(dataset, 'rcs', None) is not None:
            raise ValueError('SoftBalanceSampler picks the source image itself: set the '
                             'DomainPairDataset\'s rare_class_sampling=None')
        self.dataset = dataset
        self.size = len(dataset)
        root = getattr(source, 'data_root', None) or ''
        self.stats_file = stats_file or osp.join(root, 'sample_class_stats.json')
        num_classes = len(source.metainfo['classes'])
        files = [source.get_data_info(i)['seg_map_path'] for i in range(len(source))]
        self.counts = read_class_counts(self.stats_file, files, num_classes, root)
        self.lam, self.alpha, self.mu, self.floor = lam, alpha, mu, floor
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.uncertain: List[int] = []
        self.weights = np.ones(self.size, dtype=np.float64)

    def set_uncertain_classes(self, uncertain: Sequence[int]) -> None:
        """Recompute the weights for ``S_k`` (class ids; empty: uniform)."""
        c = self.counts.shape[1]
        bad = [k for k in uncertain if not 0 <= int(k) < c]
        if bad:
            raise ValueError(f'uncertain classes {bad} are outside [0, {c}) of {self.stats_file}')
        self.uncertain = sorted(int(k) for k in uncertain)
        self.weights = (soft_balance_weights(self.counts, self.uncertain, self.lam, self.alpha,
                                             self.mu, self.floor) if self.uncertain
                        else np.ones(self.size, dtype=np.float64))

    def class_sampling_rate(self) -> np.ndarray:
        """[C] expected fraction of drawn images that contain each class."""
        p = self.weights / self.weights.sum()
        return (p[:, None] * (self.counts > 0)).sum(0)

    def state_dict(self) -> dict:
        return dict(uncertain=list(self.uncertain), seed=self.seed)

    def load_state_dict(self, state: dict) -> None:
        if int(state['seed']) != self.seed:
            raise ValueError(f'the checkpoint\'s sampler seed {state["seed"]} differs from this '
                             f'run\'s {self.seed}: set randomness.seed as in the interrupted run')
        self.set_uncertain_classes(state['uncertain'])

    def __iter__(self) -> Iterator[int]:
        weights = torch.as_tensor(self.weights, dtype=torch.float64)
        per_rank = -(-self.size // self.world_size)
        chunk = 0
        while True:
            g = torch.Generator().manual_seed(self.seed + chunk)
            idx = torch.multinomial(weights, per_rank * self.world_size, replacement=True,
                                    generator=g)
            yield from idx[self.rank::self.world_size].tolist()
            chunk += 1

    def __len__(self) -> int:
        return -(-self.size // self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Not used: the stream is infinite (as mmengine's ``InfiniteSampler``)."""
