"""EstimatedECEMetric: the mean estimate, the oracle ClassECE, the missing-estimate error."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmsfda  # noqa: F401
from mmsfda.evaluation.metrics import EstimatedECEMetric
from mmsfda.models.losses.differentiable_ece_loss import differentiable_ece_loss

C = 4


def make_samples(n=5, with_gt=True, seed=0, est=None):
    """Dict samples as mmseg's ValLoop hands them (``to_dict()`` of SegDataSample)."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        h, w = 6 + i, 9 - i
        logits = torch.randn(C, h, w, generator=g) * (1 + 2 * i)
        label = torch.randint(0, C, (h, w), generator=g)
        agree = torch.rand(h, w, generator=g) < 0.5
        label[agree] = logits.argmax(0)[agree]
        label[torch.rand(h, w, generator=g) < 0.1] = 255
        sample = dict(img_path=f'{i}.png', est_ece=0.1 * (i + 1) if est is None else est[i])
        if with_gt:
            sample.update(seg_logits=dict(data=logits), gt_sem_seg=dict(data=label[None]),
                          pred_sem_seg=dict(data=logits.argmax(0, keepdim=True)))
        samples.append(sample)
    return samples


def evaluate(samples, batch_size=2, **kwargs):
    metric = EstimatedECEMetric(**kwargs)
    for i in range(0, len(samples), batch_size):
        metric.process({}, samples[i:i + batch_size])
    return metric.compute_metrics(metric.results)


def true_class_ece(sample, **kwargs):
    cfg = dict(n_bins=10, lse_t=1e-5, class_level=True, average='all')
    cfg.update(kwargs)
    return float(differentiable_ece_loss(sample['seg_logits']['data'][None],
                                         sample['gt_sem_seg']['data'], **cfg)[0])


def test_est_ece_and_oracle_class_ece():
    samples = make_samples()
    out = evaluate(samples)
    assert set(out) == {'EstECE', 'ClassECE'}
    assert out['EstECE'] == pytest.approx(np.mean([0.1, 0.2, 0.3, 0.4, 0.5]))
    expected = [true_class_ece(s) for s in samples]
    assert len(set(expected)) == len(expected) and all(0 < e < 1 for e in expected)
    assert out['ClassECE'] == pytest.approx(np.mean(expected), rel=1e-6)
    # the ECE options are passed on
    present = evaluate(samples, ece_cfg=dict(average='present', n_bins=15))
    assert present['ClassECE'] == pytest.approx(
        np.mean([true_class_ece(s, average='present', n_bins=15) for s in samples]), rel=1e-6)
    assert present['ClassECE'] != pytest.approx(out['ClassECE'])
    assert present['EstECE'] == out['EstECE']


def test_without_ground_truth_or_oracle():
    assert evaluate(make_samples(with_gt=False)) == {'EstECE': pytest.approx(0.3)}
    assert evaluate(make_samples(), oracle=False) == {'EstECE': pytest.approx(0.3)}
    # ClassECE over the images that have ground truth only
    mixed = make_samples(n=2) + make_samples(n=3, with_gt=False, est=[0.0, 0.0, 0.0])
    out = evaluate(mixed)
    assert out['EstECE'] == pytest.approx(0.3 / 5)
    assert out['ClassECE'] == pytest.approx(np.mean([true_class_ece(s) for s in mixed[:2]]),
                                            rel=1e-6)


def test_logits_resized_to_the_label():
    sample = make_samples(n=1)[0]
    label = sample['gt_sem_seg']['data']
    small = sample['seg_logits']['data'][:, ::2, ::2].contiguous()
    sample['seg_logits']['data'] = small
    resized = F.interpolate(small[None], size=label.shape[-2:], mode='bilinear',
                            align_corners=False)
    expected = float(differentiable_ece_loss(resized, label)[0])
    assert evaluate([sample])['ClassECE'] == pytest.approx(expected, rel=1e-6)


def test_seg_data_samples_and_registry():
    from mmengine.structures import PixelData
    from mmseg.registry import METRICS
    from mmseg.structures import SegDataSample

    metric = METRICS.build(dict(type='EstimatedECEMetric'))
    assert isinstance(metric, EstimatedECEMetric)
    samples = make_samples(n=2)
    data_samples = []
    for s in samples:
        ds = SegDataSample(metainfo=dict(img_path=s['img_path']))
        ds.set_metainfo(dict(est_ece=torch.tensor(s['est_ece']).item()))
        ds.seg_logits = PixelData(data=s['seg_logits']['data'])
        ds.gt_sem_seg = PixelData(data=s['gt_sem_seg']['data'])
        data_samples.append(ds)
    metric.process({}, data_samples)
    out = metric.compute_metrics(metric.results)
    assert out['EstECE'] == pytest.approx(0.15)
    assert out['ClassECE'] == pytest.approx(np.mean([true_class_ece(s) for s in samples]),
                                            rel=1e-6)


def test_missing_est_ece_is_an_error():
    samples = make_samples(n=2)
    del samples[1]['est_ece']
    metric = EstimatedECEMetric()
    with pytest.raises(ValueError, match='ECE-estimating segmentor'):
        metric.process({}, samples)


def test_no_image():
    out = EstimatedECEMetric().compute_metrics([])
    assert list(out) == ['EstECE'] and math.isnan(out['EstECE'])
