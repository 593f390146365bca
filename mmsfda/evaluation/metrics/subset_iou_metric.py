"""IoU metric that also reports mean IoUs over named class subsets (SYNTHIA's mIoU16 / mIoU13)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from mmsfda.datasets.synthia import CITYSCAPES_CLASSES, SYNTHIA13_CLASSES, SYNTHIA16_CLASSES

#: SYNTHIA -> Cityscapes with a 19-way head: ``mIoU`` is mmseg's 19-class mean, plus these.
SYNTHIA_19WAY_SUBSETS = dict(
    mIoU19=CITYSCAPES_CLASSES, mIoU16=SYNTHIA16_CLASSES, mIoU13=SYNTHIA13_CLASSES)
#: SYNTHIA -> Cityscapes with a 16-way head (evaluated on ``Cityscapes16Dataset``).
SYNTHIA_16WAY_SUBSETS = dict(mIoU16=SYNTHIA16_CLASSES, mIoU13=SYNTHIA13_CLASSES)
#: Named subset definitions, so configs can say ``subsets='synthia16'``.
SUBSET_PRESETS = dict(synthia19=SYNTHIA_19WAY_SUBSETS, synthia16=SYNTHIA_16WAY_SUBSETS)


@METRICS.register_module()
class SubsetIoUMetric(IoUMetric):
    """mmseg's :class:`IoUMetric`, plus the mean IoU over each named subset of classes.

    A subset's mean is taken over the per-class IoUs of the whole evaluation set (the same
    intersections and unions as mmseg's ``mIoU``, classes absent from both prediction and ground
    truth are skipped like mmseg's ``nanmean``), in percent, rounded to 2 decimals.

    Args:
        subsets (dict[str, Sequence[str | int]] | str): metric name -> classes, as class names of
            the dataset's ``metainfo['classes']`` or as class indices. Names let one subset
            definition serve both 19-way and 16-way heads, e.g.
            ``dict(mIoU16=SYNTHIA16_CLASSES, mIoU13=SYNTHIA13_CLASSES)``. A string names a preset
            of ``SUBSET_PRESETS``: ``'synthia19'`` (mIoU19/16/13) or ``'synthia16'`` (mIoU16/13).
        **kwargs: :class:`IoUMetric` arguments.
    """
    _RESERVED = ('aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore', 'mPrecision', 'mRecall')

    def __init__(self, subsets: Union[str, Dict[str, Sequence[Union[str, int]]]],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(subsets, str):
            if subsets not in SUBSET_PRESETS:
                raise ValueError(f'unknown subset preset {subsets!r}; presets: '
                                 f'{sorted(SUBSET_PRESETS)}')
            subsets = SUBSET_PRESETS[subsets]
        if not subsets:
            raise ValueError('SubsetIoUMetric needs at least one subset; use IoUMetric otherwise')
        for name, classes in subsets.items():
            if name in self._RESERVED:
                raise ValueError(f'subset name {name!r} clashes with an IoUMetric output')
            if isinstance(classes, (str, bytes)) or len(classes) == 0:
                raise ValueError(
                    f'subset {name!r} must be a non-empty list of classes, got {classes!r}')
        self.subsets = {name: list(classes) for name, classes in subsets.items()}

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        # Resolve the subsets when the evaluator gets the dataset's classes (when the runner builds
        # its loops), so that a misspelt class fails before training rather than at the first eval.
        BaseMetric.dataset_meta.fset(self, dataset_meta)
        if dataset_meta is not None and 'classes' in dataset_meta:
            for classes in self.subsets.values():
                self._subset_indices(classes)

    def _subset_indices(self, classes: Sequence[Union[str, int]]) -> List[int]:
        names = list(self.dataset_meta['classes'])
        indices = []
        for c in classes:
            if isinstance(c, str):
                if c not in names:
                    raise KeyError(f'class {c!r} of a SubsetIoUMetric subset is not a class of the '
                                   f'dataset ({names})')
                indices.append(names.index(c))
            else:
                if not 0 <= int(c) < len(names):
                    raise IndexError(f'class index {c} out of range for {len(names)} classes')
                indices.append(int(c))
        return indices

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmseg's metrics plus one ``<subset name>`` entry per subset (mean IoU in %)."""
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        iou = (sum(r[0] for r in results) / sum(r[1] for r in results)).numpy()  # [C]
        if self.nan_to_num is not None:
            iou = np.nan_to_num(iou, nan=self.nan_to_num)
        subset_metrics = OrderedDict()
        for name, classes in self.subsets.items():
            subset_metrics[name] = np.round(np.nanmean(iou[self._subset_indices(classes)]) * 100, 2)
        print_log(
            'subset mean IoUs: ' + ', '.join(f'{k}={v}' for k, v in subset_metrics.items()),
            logger=MMLogger.get_current_instance())
        metrics.update(subset_metrics)
        return metrics
