"""Load an image's black-box source prediction (ATP's black-box distillation stage)."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..source_prediction_files import read_meta, read_prediction

IGNORE_INDEX = 255


@TRANSFORMS.register_module()
class LoadSourcePredictions(BaseTransform):
    """Read the source model's prediction of ``img_path`` from a prediction directory.

    Put it after the image loader, pack with :class:`PackSegInputsWithSourcePredictions`.

    Added keys (all in ``seg_fields``, so mmseg's geometric transforms move them together):
        - ``gt_seg_map`` (uint8 [H, W]): the source argmax; 255 where the confidence is below
          ``min_confidence`` (``'probs'`` files only);
        - ``pseudo_weight`` (float32 [H, W]): 1 on labelled pixels, 0 elsewhere;
        - ``source_probs`` (float32 [H, W, C], ``'probs'`` files only): the probabilities.

    Args:
        pred_dir (str): The directory (see :mod:`mmsfda.datasets.source_prediction_files`).
        num_classes (int): Classes the model predicts; the directory must have as many.
        min_confidence (float, optional): Confidence below which the hard label is 255 (the
            CE-on-confident-labels distillation). None: every pixel labelled.

    Raises:
        ValueError: The directory holds another class count or was written for another image
            folder (names ``meta.json``, the key and both values).
        FileNotFoundError: An image has no prediction file (names the image and the file).
    """

    def __init__(self, pred_dir: Optional[str] = None, num_classes: int = None,
                 min_confidence: Optional[float] = None) -> None:
        if pred_dir is None:
            raise ValueError('LoadSourcePredictions needs pred_dir, the directory written by '
                             'tools/atp_black_box_predictions.py (set it in the config, e.g. '
                             '--cfg-options train_dataloader.dataset.pipeline.1.pred_dir=DIR)')
        if num_classes is None:
            raise ValueError('LoadSourcePredictions needs num_classes (the model\'s)')
        self.pred_dir, self.num_classes, self.min_confidence = pred_dir, num_classes, min_confidence
        self._meta = None

    @property
    def meta(self) -> dict:
        if self._meta is None:
            meta = read_meta(self.pred_dir)
            if meta.get('num_classes') != self.num_classes:
                raise ValueError(f'{osp.join(self.pred_dir, "meta.json")}: num_classes is '
                                 f'{meta.get("num_classes")}, but the model predicts '
                                 f'{self.num_classes} classes')
            self._meta = meta
        return self._meta

    def transform(self, results: dict) -> dict:
        meta = self.meta
        img_dir = meta['img_dir']
        path = osp.abspath(results['img_path'])
        if not path.startswith(img_dir + osp.sep) or not path.endswith(meta['img_suffix']):
            raise ValueError(f'{osp.join(self.pred_dir, "meta.json")}: img_dir is {img_dir!r} '
                             f'(suffix {meta["img_suffix"]!r}), but the pipeline loads {path}: '
                             'the predictions belong to another target set')
        name = osp.relpath(path, img_dir)[:-len(meta['img_suffix'])]
        pred = read_prediction(self.pred_dir, name, meta['format'])
        shape = results.get('ori_shape') or results['img'].shape[:2]
        if meta['format'] == 'probs':
            if pred.shape[0] != self.num_classes or tuple(pred.shape[1:]) != tuple(shape[:2]):
                raise ValueError(f'{name}: prediction of shape {pred.shape}, expected '
                                 f'({self.num_classes}, {shape[0]}, {shape[1]})')
            labels = pred.argmax(0).astype(np.uint8)
            if self.min_confidence is not None:
                labels[pred.max(0) < self.min_confidence] = IGNORE_INDEX
            results['source_probs'] = np.ascontiguousarray(pred.transpose(1, 2, 0))
            fields = ['gt_seg_map', 'pseudo_weight', 'source_probs']
        else:
            labels = pred.astype(np.uint8)
            fields = ['gt_seg_map', 'pseudo_weight']
        results['gt_seg_map'] = labels
        results['pseudo_weight'] = (labels != IGNORE_INDEX).astype(np.float32)
        results.setdefault('seg_fields', [])
        results['seg_fields'] += [f for f in fields if f not in results['seg_fields']]
        return results
