"""Per-sample class statistics for rare-class sampling (RCS, DAFormer, Hoyer et al., CVPR 2022).

A converter (GTA5, SYNTHIA, the toy benchmark) calls :func:`compute_class_stats` on every train-id
label map it writes and :func:`write_class_stats` once at the end. The two files are DAFormer's:

- ``sample_class_stats.json``: ``[{"file": <label path>, "<class id>": <pixel count>, ...}, ...]``,
  one entry per label map, listing only the classes present in it;
- ``samples_with_class.json``: ``{"<class id>": [[<label path>, <pixel count>], ...], ...}``.

JSON keys are strings; readers convert them with ``int()`` as DAFormer does.
"""
import json
import os
import os.path as osp
from typing import Dict, Iterable, List, Union

import numpy as np

from ..utils.atomic import atomic_write

__all__ = ['compute_class_stats', 'write_class_stats']


def compute_class_stats(label: np.ndarray, num_classes: int,
                        ignore_index: int = 255) -> Dict[int, int]:
    """Count the pixels of each class in one label map.

    Args:
        label (np.ndarray): [H, W] integer train ids in ``[0, num_classes)`` or ``ignore_index``.
        num_classes (int): number of classes C.
        ignore_index (int): the label of unlabelled pixels, not counted. Defaults to 255.

    Returns:
        dict[int, int]: ``{class id: pixel count}`` for the classes present (count > 0), in
        increasing class order.

    Raises:
        ValueError: a value is neither a class id nor ``ignore_index``.
    """
    values = np.asarray(label).ravel()
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f'label must hold integers, got dtype {values.dtype}')
    if values.size and values.min() < 0:
        raise ValueError(f'label values must be non-negative, got minimum {values.min()}')
    counts = np.bincount(values, minlength=max(num_classes, ignore_index + 1))
    valid = np.zeros(counts.shape[0], dtype=bool)
    valid[:num_classes] = True
    valid[ignore_index] = True
    bad = np.flatnonzero((counts > 0) & ~valid)
    if bad.size:
        raise ValueError(f'label values {bad.tolist()} are outside [0, {num_classes}) and are not '
                         f'the ignore index {ignore_index}')
    return {c: int(counts[c]) for c in range(num_classes) if counts[c] > 0}


def write_class_stats(records: Iterable[dict], out_dir: str) -> None:
    """Write ``sample_class_stats.json`` and ``samples_with_class.json`` into ``out_dir``.

    Args:
        records: one dict per label map: ``{'file': <label path>, <class id>: <pixel count>, ...}``,
            class ids as ints or digit strings (the output of :func:`compute_class_stats` plus a
            ``'file'`` key). Their order is kept.
        out_dir (str): the dataset root the RCS sampler reads; created if missing.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    sample_class_stats: List[dict] = []
    samples_with_class: Dict[int, List[list]] = {}
    for record in records:
        if 'file' not in record:
            raise KeyError(f"a class-stats record has no 'file' key: {record}")
        file = record['file']
        counts = sorted((int(c), int(n)) for c, n in record.items() if c != 'file')
        entry: Dict[str, Union[str, int]] = {'file': file}
        for c, n in counts:
            entry[str(c)] = n
            samples_with_class.setdefault(c, []).append([file, n])
        sample_class_stats.append(entry)
    os.makedirs(out_dir, exist_ok=True)
    _write_json_atomic(sample_class_stats, osp.join(out_dir, 'sample_class_stats.json'))
    _write_json_atomic({str(c): samples_with_class[c] for c in sorted(samples_with_class)},
                       osp.join(out_dir, 'samples_with_class.json'))


def _write_json_atomic(obj, path: str) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + '\n')
