"""SubsetIoUMetric against hand-computed IoUs (SYNTHIA -> Cityscapes, 19-way and 16-way heads)."""
from fractions import Fraction

import numpy as np
import pytest
import torch

import mmsfda  # noqa: F401  (registers the metric)
from mmseg.datasets import CityscapesDataset
from mmseg.registry import METRICS
from mmsfda.datasets.synthia import SYNTHIA16_CLASSES
from mmsfda.evaluation.metrics.subset_iou_metric import (SYNTHIA_16WAY_SUBSETS,
                                                         SYNTHIA_19WAY_SUBSETS, SubsetIoUMetric)

CS19 = CityscapesDataset.METAINFO['classes']


def sample(pred, gt):
    pred, gt = (torch.as_tensor(np.asarray(a)).reshape(1, 1, -1) for a in (pred, gt))
    return dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))


def evaluate(metric, classes, samples):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def pct(x):
    return round(float(x) * 100, 2)


def test_19way_head_on_19_class_labels():
    # 4 pixels of each of the 19 classes. The model never predicts terrain/truck/train (absent in
    # SYNTHIA): it calls them road. It calls 2 of the 4 wall pixels building. Split in two batches.
    gt = np.repeat(np.arange(19), 4)
    pred = gt.copy()
    pred[np.isin(gt, [9, 14, 16])] = 0
    pred[np.flatnonzero(gt == 3)[:2]] = 2
    iou = {c: Fraction(1) for c in range(19)}
    iou[0] = Fraction(4, 16)  # road: 4 right, 12 false positives
    iou[2] = Fraction(4, 6)  # building: 4 right, 2 false positives
    iou[3] = Fraction(2, 4)  # wall: 2 of 4 found
    for c in (9, 14, 16):
        iou[c] = Fraction(0)
    s16 = [c for c in range(19) if c not in (9, 14, 16)]
    s13 = [c for c in s16 if c not in (3, 4, 5)]
    metric = SubsetIoUMetric(subsets=SYNTHIA_19WAY_SUBSETS)
    res = evaluate(metric, CS19, [sample(pred[:40], gt[:40]), sample(pred[40:], gt[40:])])
    assert res['mIoU19'] == res['mIoU'] == pct(sum(iou.values()) / 19) == 75.88
    assert res['mIoU16'] == pct(sum(iou[c] for c in s16) / 16) == 90.10
    assert res['mIoU13'] == pct(sum(iou[c] for c in s13) / 13) == 91.67
    assert res['mIoU16'] == pytest.approx(res['mIoU19'] * 19 / 16, abs=0.01)  # MIC's shortcut
    assert 'aAcc' in res and 'mAcc' in res


def test_16way_head_with_an_absent_class_and_indices():
    # 16-class labels; bicycle (15) is in neither prediction nor label: mmseg's nanmean skips it.
    gt = np.repeat(np.arange(15), 3)
    pred = gt.copy()
    pred[gt == 4] = 5  # fence all called pole: fence IoU 0, pole IoU 3/6
    pred[0] = 9  # one road pixel called sky: road 2/3, sky 3/4
    gt = np.concatenate([gt, [255, 255]])  # ignored pixels, whatever predicted
    pred = np.concatenate([pred, [15, 3]])
    iou = {c: Fraction(1) for c in range(15)}
    iou.update({0: Fraction(2, 3), 4: Fraction(0), 5: Fraction(1, 2), 9: Fraction(3, 4)})
    s13 = [c for c in range(15) if c not in (3, 4, 5)]
    metric = SubsetIoUMetric(subsets=dict(**SYNTHIA_16WAY_SUBSETS, first3=[0, 1, 2]))
    res = evaluate(metric, SYNTHIA16_CLASSES, [sample(pred, gt)])
    assert res['mIoU16'] == res['mIoU'] == pct(sum(iou.values()) / 15)
    assert res['mIoU13'] == pct(sum(iou[c] for c in s13) / 12)
    assert res['first3'] == pct((iou[0] + 2) / 3)


def test_subsets_are_checked_early():
    metric = SubsetIoUMetric(subsets=SYNTHIA_19WAY_SUBSETS)
    with pytest.raises(KeyError, match="'terrain'"):  # a 19-way subset on a 16-class dataset
        metric.dataset_meta = dict(classes=SYNTHIA16_CLASSES)
    with pytest.raises(ValueError, match='clashes'):
        SubsetIoUMetric(subsets=dict(mIoU=['road']))
    with pytest.raises(ValueError, match='non-empty list'):
        SubsetIoUMetric(subsets=dict(mIoU1='road'))
    with pytest.raises(IndexError):
        SubsetIoUMetric(subsets=dict(x=[16])).dataset_meta = dict(classes=SYNTHIA16_CLASSES)


def test_registered_and_built_from_config():
    metric = METRICS.build(
        dict(type='SubsetIoUMetric', subsets=dict(mIoU13=list(SYNTHIA_16WAY_SUBSETS['mIoU13']))))
    assert isinstance(metric, SubsetIoUMetric)
