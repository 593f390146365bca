"""Read back the pseudo-labels :func:`~mmsfda.engine.pseudo_labeling.label_dataset` wrote.

The files (one label and one weight PNG per image, see :mod:`mmsfda.datasets.pseudo_label_files`)
hold two pixel maps that must move together through the geometric transforms of the pipeline, so
the weight is registered in ``results['seg_fields']``: mmseg's transforms (``RandomFlip``,
``Resize`` / ``RandomResize``, ``RandomCrop``, ``RandomRotate``, ...) apply to every seg field with
nearest interpolation. mmcv's own ``Pad`` only knows ``gt_seg_map``: padding happens in the data
preprocessor in mmseg 1.x pipelines anyway. :class:`PackSegInputsWithWeights` checks that the two
maps still have the same size.
"""
from typing import Optional

from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

# The format lives in one module; these names stay importable from here.
from ..pseudo_label_files import (WEIGHT_SCALE, WEIGHT_SUFFIX, encode_weight,  # noqa: F401
                                  pseudo_label_paths, pseudo_label_stem, read_uint8_png)


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
            :class:`~mmsfda.engine.loops.SelfTrainingLoop` sets it each round; the directory of
            ``tools/gen_pseudo_labels.py`` otherwise.
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
