"""What the GTA5, SYNTHIA and ACDC converters share: id map -> train-id PNGs; resumable, atomic,
parallel.

Each raw label ``<dir>/<name>.png`` gets ``<dir>/<name>_labelTrainIds.png`` (uint8, 255 = ignore);
with ``raw_suffix='_labelIds.png'`` (ACDC), ``<dir>/<name>_labelIds.png`` gets
``<dir>/<name>_labelTrainIds.png``.
A label written before is read back instead of converted again (so a killed run resumes where it
stopped, and its statistics still cover every file); ``overwrite=True`` converts everything again.
Files are written under a temporary name and renamed, so a killed run never leaves a half-written
label that a resumed run would trust.
"""
import os
import os.path as osp
import tempfile
import warnings
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from mmsfda.datasets.class_stats import compute_class_stats, write_class_stats

OUT_SUFFIX = '_labelTrainIds.png'
IGNORE_INDEX = 255
_UMASK = os.umask(0)
os.umask(_UMASK)


def read_8bit_label(path: str, dataset: str, expected: str) -> np.ndarray:
    """The ids of an 8-bit label PNG (palette indices or grey values), uint8 [H, W].

    Args:
        path (str): The label file.
        dataset (str): Named in the errors, e.g. ``'GTA5'``.
        expected (str): What a label of ``dataset`` must be, said when the PNG's mode is not
            ``P`` or ``L``.
    """
    try:
        with Image.open(path) as img:
            img.load()
    except FileNotFoundError:
        raise
    except Exception as e:  # PIL raises several types for truncated / non-image files
        raise ValueError(f'cannot read {dataset} label {path}: {e}') from e
    if img.mode not in ('P', 'L'):
        raise ValueError(f'{dataset} label {path} has PIL mode {img.mode}; {expected}')
    return np.asarray(img)


def add_conversion_options(parser) -> None:
    """``--nproc`` and ``--overwrite`` of every converter (an ``argparse.ArgumentParser``)."""
    parser.add_argument('--nproc', default=4, type=int, help='number of processes')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='convert labels again even where a train-id file exists')


def id_lut(id_map: Dict[int, int]) -> np.ndarray:
    """Lookup table over every uint16 value: ``lut[label_id] = train_id``, unmapped ids -> 255."""
    lut = np.full(1 << 16, IGNORE_INDEX, dtype=np.uint8)
    for k, v in id_map.items():
        lut[k] = v
    return lut


def write_png_atomic(path: str, array: np.ndarray) -> None:
    """Write ``array`` as a PNG at ``path`` via a hidden temporary file in the same folder."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise OSError(f'could not encode {path} as PNG')
    fd, tmp = tempfile.mkstemp(
        dir=osp.dirname(path) or '.', prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, 'wb') as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def find_pairs(img_dir: str, label_dir: str, dataset: str) -> List[tuple]:
    """``(image, raw label)`` paths matched by name; raises if either side is missing."""

    def scan(d):
        if not osp.isdir(d):
            raise FileNotFoundError(f'{dataset}: folder {d} does not exist')
        return {
            osp.relpath(osp.join(root, f), d)
            for root, _, files in os.walk(d)
            for f in files
            if f.endswith('.png') and not f.startswith('.') and '_labelTrainIds' not in f
        }

    images, labels = scan(img_dir), scan(label_dir)
    if not labels:
        raise FileNotFoundError(f'{dataset}: no label PNGs found under {label_dir}')
    for missing, have, kind, there in ((labels - images, label_dir, 'image', img_dir),
                                       (images - labels, img_dir, 'label', label_dir)):
        if missing:
            name = sorted(missing)[0]
            raise FileNotFoundError(
                f'{dataset}: {len(missing)} file(s) under {have} have no {kind}, e.g. '
                f'{osp.join(there, name)} is missing (for {osp.join(have, name)})')
    return [(osp.join(img_dir, n), osp.join(label_dir, n)) for n in sorted(labels)]


def image_size(path: str) -> tuple:
    """(width, height) from the PNG header only; raises naming the file if it is unreadable."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception as e:  # PIL raises several types for truncated / non-image files
        raise ValueError(f'cannot read image {path}: {e}') from e


def convert_pair(pair: tuple, read_label: Callable[[str], np.ndarray], lut: np.ndarray,
                 stats_spaces: Dict[str, tuple], overwrite: bool, raw_suffix: str = '.png') -> dict:
    """Convert one label; return its class statistics per stats space and whether sizes match.

    ``stats_spaces``: name -> ``(lut over train ids or None, num_classes)``; each gives one record
    ``{'file': <train-id file>, '<class>': pixels, ...}`` of :func:`compute_class_stats`.
    ``raw_suffix``: the end of the raw label's name that ``_labelTrainIds.png`` replaces.
    """
    img_path, label_path = pair
    if not label_path.endswith(raw_suffix):
        raise ValueError(f'label {label_path} does not end with {raw_suffix!r}')
    out_path = label_path[:-len(raw_suffix)] + OUT_SUFFIX
    if overwrite or not osp.exists(out_path):
        train_ids = lut[read_label(label_path)]
        write_png_atomic(out_path, train_ids)
    else:
        train_ids = cv2.imread(out_path, cv2.IMREAD_UNCHANGED)
        if train_ids is None or train_ids.ndim != 2:
            raise ValueError(f'cannot read the converted label {out_path}; delete it or pass '
                             '--overwrite')
    stats = {}
    for name, (space_lut, num_classes) in stats_spaces.items():
        ids = train_ids if space_lut is None else space_lut[train_ids]
        try:
            stats[name] = {'file': out_path, **compute_class_stats(ids, num_classes)}
        except ValueError as e:  # only a stale file from elsewhere can hold other values
            raise ValueError(f'{out_path}: {e}; delete it or pass --overwrite') from e
    h, w = train_ids.shape
    return dict(stats=stats, size_ok=image_size(img_path) == (w, h), img=img_path)


def convert_dataset(pairs: Sequence[tuple],
                    read_label: Callable[[str], np.ndarray],
                    id_map: Dict[int, int],
                    root: str,
                    out_dir: str,
                    nproc: int = 1,
                    overwrite: bool = False,
                    extra_stats: Optional[Dict[str, tuple]] = None,
                    raw_suffix: str = '.png') -> Dict[str, list]:
    """Convert every pair and write the rare-class-sampling statistics.

    The statistics of the train ids go to ``out_dir``; each ``extra_stats`` entry
    ``subdir -> (lut over train ids, num_classes)`` writes statistics of remapped ids to
    ``out_dir/subdir``. Their ``file`` entries are relative to the dataset ``root``
    (``labels/00001_labelTrainIds.png``), so they hold wherever the converter ran and wherever
    the dataset moves; ``DomainPairDataset`` matches them against the source dataset's
    ``seg_map_path`` relative to its ``data_root``. ``raw_suffix``: see :func:`convert_pair`.
    Returns the records per output folder.
    """
    spaces = {'': (None, max(id_map.values()) + 1), **(extra_stats or {})}
    func = partial(
        convert_pair,
        read_label=read_label,
        lut=id_lut(id_map),
        stats_spaces=spaces,
        overwrite=overwrite,
        raw_suffix=raw_suffix)
    if nproc > 1:
        results = track_parallel_progress(func, list(pairs), nproc)
    else:
        results = track_progress(func, list(pairs))
    mismatched = [r['img'] for r in results if not r['size_ok']]
    if mismatched:
        warnings.warn(
            f'{len(mismatched)} image(s) differ in size from their label, e.g. '
            f'{mismatched[0]}; pipelines that resize image and label to one scale hide '
            'this, others need a fix',
            stacklevel=2)
    written = {}
    for name in spaces:
        records = [{**r['stats'][name], 'file': osp.relpath(r['stats'][name]['file'], root)}
                   for r in results]
        write_class_stats(records, osp.join(out_dir, name) if name else out_dir)
        written[name] = records
    return written
