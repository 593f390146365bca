"""The file format of black-box source predictions (ATP's black-box setting, arXiv:2106.11653).

In the black-box setting the source model is an API: only its outputs on the target images are
available. ``tools/atp_black_box_predictions.py`` writes them once into a directory, and the
distillation stage trains a fresh target model from that directory alone:

* ``<dir>/meta.json``: ``format`` (``'probs'`` or ``'labels'``), ``num_classes``, ``classes``,
  ``img_dir`` (absolute), ``img_suffix``, ``num_images``;
* per image ``<name>`` (its path relative to ``img_dir`` without the suffix):
  ``<dir>/<name>.npz`` with ``probs`` float16 [C, H, W] (``np.savez_compressed``), or
  ``<dir>/<name>.png`` uint8 [H, W] argmax labels.
"""
import io
import json
import os.path as osp

import numpy as np

from ..utils import atomic_write

META = 'meta.json'
FORMATS = ('probs', 'labels')


def prediction_path(pred_dir: str, name: str, fmt: str) -> str:
    return osp.join(pred_dir, name + ('.npz' if fmt == 'probs' else '.png'))


def write_prediction(pred_dir: str, name: str, probs: np.ndarray, fmt: str) -> None:
    """Write one image's prediction (``probs`` float [C, H, W]) atomically."""
    if fmt == 'probs':
        buf = io.BytesIO()
        np.savez_compressed(buf, probs=probs.astype(np.float16))
        atomic_write(prediction_path(pred_dir, name, fmt), buf.getvalue())
    else:
        import cv2
        ok, png = cv2.imencode('.png', probs.argmax(0).astype(np.uint8))
        if not ok:
            raise RuntimeError(f'could not encode the labels of {name}')
        atomic_write(prediction_path(pred_dir, name, fmt), png.tobytes())


def read_prediction(pred_dir: str, name: str, fmt: str) -> np.ndarray:
    """``probs`` float32 [C, H, W] (format 'probs') or labels uint8 [H, W] (format 'labels')."""
    path = prediction_path(pred_dir, name, fmt)
    if not osp.isfile(path):
        raise FileNotFoundError(f'black-box predictions {pred_dir} do not cover the target image '
                                f'{name!r} (no {path}): write them for this target set with '
                                'tools/atp_black_box_predictions.py')
    if fmt == 'probs':
        with np.load(path) as f:
            return f['probs'].astype(np.float32)
    import cv2
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def write_meta(pred_dir: str, meta: dict) -> None:
    atomic_write(osp.join(pred_dir, META), json.dumps(meta, indent=1) + '\n')


def read_meta(pred_dir: str) -> dict:
    path = osp.join(pred_dir, META)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: {pred_dir} is not a prediction directory '
                                'of tools/atp_black_box_predictions.py')
    with open(path) as f:
        meta = json.load(f)
    if meta.get('format') not in FORMATS:
        raise ValueError(f'{path}: format must be one of {FORMATS}, got {meta.get("format")!r}')
    return meta
