"""Read back the pseudo-labels :class:`~mmsfda.engine.loops.SelfTrainingLoop` wrote for a round.

File layout of one round directory (``<work_dir>/pseudo_labels/round_<r>/``), per target image
``<stem>`` (the image file name without its extension)::

    <stem>.png          uint8 label map at the image's original size, class ids, 255 = ignore
    <stem>_weight.png   uint8 weight map, weight = value / 255 (quantised: step 1/255, the
                        round-trip error is at most 1/510; weights 0 and 1 are exact)

The two pixel maps must move together through the geometric transforms of the pipeline, so the
weight is registered in ``results['seg_fields']``: mmseg's transforms (``RandomFlip``, ``Resize`` /
``RandomResize``, ``RandomCrop``, ``RandomRotate``, ...) apply to every seg field with nearest
interpolation. mmcv's own ``Pad`` only knows ``gt_seg_map``: padding happens in the data
preprocessor in mmseg 1.x pipelines anyway. :class:`PackSegInputsWithWeights` checks that the two
maps still have the same size.
"""
import os.path as osp
from typing import Optional, Tuple

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

#: The weight of a pixel is ``value / WEIGHT_SCALE`` in a ``<stem>_weight.png`` file.
WEIGHT_SCALE = 255
WEIGHT_SUFFIX = '_weight'


def pseudo_label_stem(img_path: str) -> str:
    """Name of an image's pseudo-label files: the image file name without its extension."""
    return osp.splitext(osp.basename(img_path))[0]


def pseudo_label_paths(label_dir: str, img_path: str) -> Tuple[str, str]:
    """``(<label_dir>/<stem>.png, <label_dir>/<stem>_weight.png)`` of the image ``img_path``."""
    stem = pseudo_label_stem(img_path)
    return (osp.join(label_dir, f'{stem}.png'), osp.join(label_dir, f'{stem}{WEIGHT_SUFFIX}.png'))


def encode_weight(weights: np.ndarray) -> np.ndarray:
    """Float weights [H, W] in [0, 1] -> uint8 [H, W] (``round(w * 255)``; NaN -> 0)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(w, 0.0, 1.0) * WEIGHT_SCALE).astype(np.uint8)


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


@TRANSFORMS.register_module()
class LoadPseudoLabels(BaseTransform):
    """Load an image's pseudo-label (and weight) files of the current self-training round.

    Put it right after the image loader in the train pipeline, in place of ``LoadAnnotations``, and
    pack with :class:`PackSegInputsWithWeights`.

    Required keys: ``img_path`` (``ori_shape`` when present is checked against the label size).

    Added keys:
        - ``gt_seg_map`` (np.uint8 [H, W]): the pseudo-labels, 255 = ignore.
        - ``pseudo_weight`` (np.uint8 [H, W], ``with_weight`` only): the weights times 255.
        - both are appended to ``seg_fields``, so geometric transforms move them together.

    Args:
        label_dir (str, optional): The round directory. Left None in configs:
            :class:`~mmsfda.engine.loops.SelfTrainingLoop` sets it each round.
        with_weight (bool): Also read ``<stem>_weight.png``. Defaults to True.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self, label_dir: Optional[str] = None, with_weight: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.label_dir = label_dir
        self.with_weight = with_weight
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        if self.label_dir is None:
            raise RuntimeError('LoadPseudoLabels has no label_dir: it reads the pseudo-labels of '
                               'a round and is meant for the train pipeline of SelfTrainingLoop, '
                               'which sets the directory every round')
        label_path, weight_path = pseudo_label_paths(self.label_dir, results['img_path'])
        of_image = (f" (pseudo-label of image {results['img_path']}; the train dataset must be the "
                    'set SelfTrainingLoop labels)')
        try:
            seg = read_uint8_png(label_path, self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'{e}{of_image}') from e
        if 'ori_shape' in results and tuple(seg.shape) != tuple(results['ori_shape'][:2]):
            raise ValueError(f'pseudo-label file {label_path} has size {tuple(seg.shape)} but its '
                             f"image {results['img_path']} has size {tuple(results['ori_shape'])}")
        results['gt_seg_map'] = seg
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        if self.with_weight:
            weight = read_uint8_png(weight_path, self.backend_args, 'pseudo-label weight')
            if weight.shape != seg.shape:
                raise ValueError(f'weight file {weight_path} has size {weight.shape}, its label '
                                 f'file {label_path} {seg.shape}')
            results['pseudo_weight'] = weight
            if 'pseudo_weight' not in fields:
                fields.append('pseudo_weight')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(label_dir={self.label_dir!r}, '
                f'with_weight={self.with_weight})')
