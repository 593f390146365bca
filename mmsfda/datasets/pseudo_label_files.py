"""The on-disk format of a pseudo-label directory: the writer and the reader in one place.

:func:`mmsfda.engine.pseudo_labeling.label_dataset` writes a directory (one self-training round,
or one run of ``tools/gen_pseudo_labels.py``); :class:`~mmsfda.datasets.transforms.LoadPseudoLabels`
reads it in the train pipeline. Per target image ``<stem>`` (the image file name without its
extension)::

    <stem>.png          uint8 label map at the image's original size, class ids, 255 = ignore
    <stem>_weight.png   uint8 weight map, weight = value / 255 (quantised: step 1/255, the
                        round-trip error is at most 1/510; weights 0 and 1 are exact)

and for the directory::

    identity.json       written first: what the directory is being filled for (and its hash)
    labeler_state.pt    the labeler's round state (e.g. its thresholds), saved before any label
    manifest.json       written last: the directory is complete (identity, hash, statistics)

Every file is written atomically (temporary file ``.tmp-*`` in the same folder, then
``os.replace``): a killed writer leaves whole files or temporary ones, never a half file.
"""
import glob
import io
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import mmengine.fileio as fileio
import numpy as np
import torch
from torch import Tensor

from ..utils.atomic import atomic_write

#: Bumped when the files of a directory change meaning.
FORMAT_VERSION = 2
#: The weight of a pixel is ``value / WEIGHT_SCALE`` in a ``<stem>_weight.png`` file.
WEIGHT_SCALE = 255
WEIGHT_SUFFIX = '_weight'
IDENTITY = 'identity.json'
MANIFEST = 'manifest.json'
STATE = 'labeler_state.pt'
#: Prefix of :func:`~mmsfda.utils.atomic.atomic_write`'s temporary files.
TMP_PREFIX = '.tmp-'


def pseudo_label_stem(img_path: str) -> str:
    """Name of an image's pseudo-label files: the image file name without its extension."""
    return osp.splitext(osp.basename(img_path))[0]


def pseudo_label_paths(label_dir: str, img_path: str) -> Tuple[str, str]:
    """``(<label_dir>/<stem>.png, <label_dir>/<stem>_weight.png)`` of the image ``img_path``."""
    stem = pseudo_label_stem(img_path)
    return (osp.join(label_dir, f'{stem}.png'), osp.join(label_dir, f'{stem}{WEIGHT_SUFFIX}.png'))


def has_pseudo_label(label_dir: str, img_path: str) -> bool:
    """Whether both files of the image exist (each is written atomically: then both are whole)."""
    return all(osp.isfile(p) for p in pseudo_label_paths(label_dir, img_path))


def check_unique_stems(img_paths: Sequence[str]) -> None:
    """Raise if two images would share files (same stem, or a stem ending as a weight file)."""
    stems = [pseudo_label_stem(p) for p in img_paths]
    seen, dup = set(), set()
    for s in stems:
        (dup if s in seen else seen).add(s)
    if dup:
        raise ValueError(f'pseudo-label files are named by the image file stem, but the dataset '
                         f'has several images named {sorted(dup)[:5]}')
    clash = sorted(seen & {s + WEIGHT_SUFFIX for s in seen})[:5]
    if clash:
        raise ValueError(f'images {clash} would overwrite the weight files of other images '
                         f'(<stem>{WEIGHT_SUFFIX}.png)')


def encode_weight(weights: np.ndarray) -> np.ndarray:
    """Float weights [H, W] in [0, 1] -> uint8 [H, W] (``round(w * 255)``; NaN -> 0)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(w, 0.0, 1.0) * WEIGHT_SCALE).astype(np.uint8)


def _encode_png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise RuntimeError('cv2.imencode failed to encode a pseudo-label map as PNG')
    return buf.tobytes()


def read_uint8_png(path: str, backend_args: Optional[dict] = None, what: str = 'pseudo-label'):
    """Read a one-channel uint8 PNG [H, W]; the errors name the file."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{what} file not found: {path}') from e
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.ndim != 2 or array.dtype != np.uint8:
        got = 'undecodable data' if array is None else f'{array.dtype} array of shape {array.shape}'
        raise ValueError(f'{what} file {path} must be a one-channel uint8 PNG, got {got}')
    return array


def write_pseudo_label(label_dir: str, img_path: str, labels: Tensor, weights: Tensor) -> None:
    """Write one image's ``<stem>_weight.png`` then ``<stem>.png`` (each atomically).

    Args:
        label_dir (str): The directory.
        img_path (str): The image the labels belong to (names the files).
        labels (Tensor): [H, W] int class ids in [0, 255), 255 = ignore.
        weights (Tensor): [H, W] float in [0, 1], stored as ``round(w * 255)`` (uint8).
    """
    label_path, weight_path = pseudo_label_paths(label_dir, img_path)
    atomic_write(weight_path, _encode_png(encode_weight(weights.float().cpu().numpy())))
    atomic_write(label_path, _encode_png(labels.cpu().numpy().astype(np.uint8)))


def read_pseudo_label(label_dir: str, img_path: str) -> Tuple[Tensor, Tensor]:
    """Read back :func:`write_pseudo_label`'s files: labels [H, W] int64, weights [H, W] float32."""
    label_path, weight_path = pseudo_label_paths(label_dir, img_path)
    labels = torch.from_numpy(read_uint8_png(label_path)).long()
    weights = torch.from_numpy(read_uint8_png(weight_path, what='pseudo-label weight')).float()
    if weights.shape != labels.shape:
        raise ValueError(f'weight file {weight_path} has size {tuple(weights.shape)}, its label '
                         f'file {label_path} {tuple(labels.shape)}')
    return labels, weights / WEIGHT_SCALE


def write_json(path: str, obj: dict) -> None:
    """Atomically write ``obj`` as sorted, indented JSON."""
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``, or None if there is no such file; a bad file is an error."""
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            obj = json.load(f)
    except ValueError as e:
        raise ValueError(f'{path} is not valid JSON ({e}): delete it to relabel') from e
    if not isinstance(obj, dict):
        raise ValueError(f'{path} must hold a JSON object, got {type(obj).__name__}')
    return obj


def save_state(path: str, state: Dict[str, Tensor]) -> None:
    """Atomically save a labeler's round state (a dict of CPU tensors)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buf)
    atomic_write(path, buf.getvalue())


def load_state(path: str) -> Dict[str, Tensor]:
    """Load :func:`save_state`'s file (tensors only: ``weights_only=True``)."""
    return torch.load(path, map_location='cpu', weights_only=True)


def remove_temporary_files(label_dir: str) -> int:
    """Delete the temporary files a killed writer left in ``label_dir``; returns how many.

    Only call it when no process writes into the directory any more."""
    tmps = glob.glob(osp.join(glob.escape(label_dir), TMP_PREFIX + '*'))
    for tmp in tmps:
        os.remove(tmp)
    return len(tmps)


def clear_directory(label_dir: str) -> int:
    """Delete what a previous labelling wrote in ``label_dir`` (label and weight PNGs, identity,
    manifest, state, temporary files); returns how many files. Other files are left alone."""
    names = [IDENTITY, MANIFEST, STATE, 'stats.pt']  # stats.pt: format 1's labeler state
    paths = [osp.join(label_dir, n) for n in names if osp.isfile(osp.join(label_dir, n))]
    paths += glob.glob(osp.join(glob.escape(label_dir), '*.png'))
    paths += glob.glob(osp.join(glob.escape(label_dir), TMP_PREFIX + '*'))
    for p in paths:
        os.remove(p)
    return len(paths)
