"""CalibrationMetric: streaming sums against torchmetrics and direct computations."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torchmetrics.functional.classification import multiclass_calibration_error

import mmsfda  # noqa: F401
from mmsfda.evaluation.metrics.calibration_metric import CalibrationMetric, confidence_bins

C = 5


def make_samples(seed=0, shapes=((6, 7), (5, 9), (8, 4), (7, 7))):
    """Random logits (C, H, W) of several sizes and scales, labels with ignored pixels.

    The last sample is saturated: many confidences are exactly 1.0 in float32, the case where
    torchmetrics' extra bin matters.
    """
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i, (h, w) in enumerate(shapes):
        scale = 60.0 if i == len(shapes) - 1 else 0.5 + 2 * i
        logits = torch.randn(C, h, w, generator=g) * scale
        label = torch.randint(0, C, (h, w), generator=g)
        # correlate labels with predictions so that accuracies are not all ~1/C
        agree = torch.rand(h, w, generator=g) < 0.6
        label[agree] = logits.argmax(0)[agree]
        label[torch.rand(h, w, generator=g) < 0.15] = 255
        samples.append(dict(seg_logits=dict(data=logits), gt_sem_seg=dict(data=label[None])))
    return samples


def flat_probs(samples):
    """(N, C) probabilities and (N,) labels over all pixels, ignored ones included."""
    probs = torch.cat([s['seg_logits']['data'].softmax(0).flatten(1).T for s in samples])
    labels = torch.cat([s['gt_sem_seg']['data'].flatten() for s in samples])
    return probs, labels


def evaluate(samples, batch_size=2, **kwargs):
    metric = CalibrationMetric(**kwargs)
    for i in range(0, len(samples), batch_size):
        metric.process({}, samples[i:i + batch_size])
    return metric.compute_metrics(metric.results), metric


@pytest.mark.parametrize('n_bins', [15, 10, 7])
def test_streaming_matches_torchmetrics(n_bins):
    samples = make_samples()
    probs, labels = flat_probs(samples)
    assert (probs.max(1).values[labels != 255] == 1).sum() > 10  # the bin {1.0} is exercised
    metrics, _ = evaluate(samples, n_bins=n_bins)
    for norm, key in (('l1', 'ECE'), ('max', 'MCE')):
        expected = multiclass_calibration_error(
            probs, labels, num_classes=C, n_bins=n_bins, norm=norm, ignore_index=255)
        assert metrics[key] == pytest.approx(expected.item(), abs=1e-6), key
    assert 0 < metrics['ECE'] < metrics['MCE'] <= 1


def test_binning_convention_matches_torchmetrics():
    """Left-closed bins [b_m, b_m+1), confidence 1 alone in bin M: exact boundary values."""
    edges = torch.linspace(0, 1, 11)
    conf = torch.cat([edges, edges[1:] - 1e-7, torch.tensor([0.05, 0.999999])])
    idx = confidence_bins(conf, 10)
    assert idx[:11].tolist() == list(range(11))
    assert idx[11:21].tolist() == list(range(10))
    assert idx[21:].tolist() == [0, 9]


def test_one_batch_and_per_sample_processing_agree():
    samples = make_samples(seed=1)
    one, _ = evaluate(samples, batch_size=len(samples))
    per_sample, metric = evaluate(samples, batch_size=1)
    for key in one:
        assert one[key] == pytest.approx(per_sample[key], rel=1e-12, abs=1e-12)
    assert len(metric.results) == len(samples)  # one result per sample, as collect_results needs


def test_nll_brier_and_ignore():
    samples = make_samples(seed=2)
    metrics, metric = evaluate(samples)
    logits = torch.cat([s['seg_logits']['data'].flatten(1).T for s in samples]).double()
    labels = torch.cat([s['gt_sem_seg']['data'].flatten() for s in samples])
    valid = labels != 255
    nll = F.cross_entropy(logits, labels, ignore_index=255)
    onehot = F.one_hot(labels[valid], C).double()
    brier = ((logits[valid].softmax(1) - onehot)**2).sum(1).mean()
    assert metrics['NLL'] == pytest.approx(nll.item(), rel=1e-5)
    assert metrics['Brier'] == pytest.approx(brier.item(), rel=1e-5)

    # ignored pixels: their predictions do not matter, and they are not counted
    summary = metric.summarize(metric.results)
    assert summary['num_pixels'] == int(valid.sum())
    changed = []
    for s in samples:
        logits = s['seg_logits']['data'].clone()
        logits[:, s['gt_sem_seg']['data'][0] == 255] = 30.0 * torch.randn(C, 1)
        changed.append(dict(seg_logits=dict(data=logits), gt_sem_seg=s['gt_sem_seg']))
    metrics_changed, _ = evaluate(changed)
    for key in metrics:
        assert metrics_changed[key] == pytest.approx(metrics[key], rel=1e-12), key
    # another ignore index: ignoring class 0 == relabelling it 255
    relabelled = [dict(seg_logits=s['seg_logits'],
                       gt_sem_seg=dict(data=s['gt_sem_seg']['data'].masked_fill(
                           s['gt_sem_seg']['data'] == 0, 255))) for s in samples]
    ignore_0, _ = evaluate(samples, ignore_index=0)
    assert ignore_0 == pytest.approx(evaluate(relabelled)[0], rel=1e-12)
    assert ignore_0['ECE'] != pytest.approx(metrics['ECE'])


@pytest.mark.parametrize('average', ['present', 'all'])
def test_classwise_ece_is_mean_of_per_gt_class_ece(average):
    samples = make_samples(seed=3)
    for s in samples:  # class 3 absent from the dataset
        label = s['gt_sem_seg']['data']
        label[label == 3] = 255
    probs, labels = flat_probs(samples)
    per_class = []
    for k in range(C):
        mask = labels == k
        if mask.any():
            per_class.append(multiclass_calibration_error(
                probs[mask], labels[mask], num_classes=C, n_bins=15, norm='l1').item())
    assert len(per_class) == C - 1
    expected = np.mean(per_class) if average == 'present' else np.sum(per_class) / C
    metrics, _ = evaluate(samples, classwise_average=average)
    assert metrics['cwECE'] == pytest.approx(expected, abs=1e-6)


def test_probabilities_input_and_single_channel():
    samples = make_samples(seed=4)
    as_probs = [dict(seg_logits=dict(data=s['seg_logits']['data'].softmax(0)),
                     gt_sem_seg=s['gt_sem_seg']) for s in samples]
    a, _ = evaluate(samples)
    b, _ = evaluate(as_probs, from_logits=False)
    for key in ('ECE', 'MCE', 'cwECE', 'Brier'):
        assert a[key] == pytest.approx(b[key], abs=1e-6), key
    # -log p from probabilities saturates at -log(float32 tiny) = 87 nats: compare unsaturated
    a, _ = evaluate(samples[:-1])
    b, _ = evaluate(as_probs[:-1], from_logits=False)
    assert a['NLL'] == pytest.approx(b['NLL'], rel=1e-4)

    # mmseg stores the sigmoid probability for single-channel (binary) heads
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1, 6, 6, generator=g)
    label = (torch.rand(1, 6, 6, generator=g) < p).long()
    single, _ = evaluate([dict(seg_logits=dict(data=p), gt_sem_seg=dict(data=label))])
    two, _ = evaluate([dict(seg_logits=dict(data=torch.cat([1 - p, p])),
                            gt_sem_seg=dict(data=label))], from_logits=False)
    assert single == pytest.approx(two)


def test_evaluator_keys_beside_iou_metric_and_json(tmp_path):
    from mmengine.evaluator import Evaluator
    from mmseg.registry import METRICS
    from mmseg.structures import SegDataSample

    out_file = str(tmp_path / 'sub' / 'reliability.json')
    # built from mmseg's registry, as a config with default_scope='mmseg' does
    evaluator = Evaluator([METRICS.build(dict(type='IoUMetric', iou_metrics=['mIoU'])),
                           METRICS.build(dict(type='CalibrationMetric', n_bins=15,
                                              out_file=out_file))])
    evaluator.dataset_meta = dict(classes=[f'c{k}' for k in range(C)])
    samples = make_samples(seed=5)
    data_samples = []
    for s in samples:
        ds = SegDataSample()
        ds.seg_logits = PixelData(data=s['seg_logits']['data'])
        ds.pred_sem_seg = PixelData(data=s['seg_logits']['data'].argmax(0, keepdim=True))
        ds.gt_sem_seg = PixelData(data=s['gt_sem_seg']['data'])
        data_samples.append(ds)
    evaluator.process(data_samples[:2])
    evaluator.process(data_samples[2:])
    metrics = evaluator.evaluate(len(data_samples))
    assert {'mIoU', 'ECE', 'MCE', 'cwECE', 'NLL', 'Brier'} <= set(metrics)
    direct, _ = evaluate(samples)
    for key in direct:
        assert metrics[key] == pytest.approx(direct[key], rel=1e-12)

    with open(out_file) as f:
        data = json.load(f)
    assert data['n_bins'] == 15 and data['classes'] == [f'c{k}' for k in range(C)]
    assert len(data['bin_lower']) == len(data['count']) == 16
    assert data['bin_lower'][-1] == data['bin_upper'][-1] == 1.0
    assert sum(data['count']) == data['num_pixels'] == sum(data['class_pixels'])
    count, conf, correct = (np.array(data[k], dtype=float)
                            for k in ('count', 'conf_sum', 'correct'))
    assert np.abs(conf - correct).sum() / count.sum() == pytest.approx(metrics['ECE'], rel=1e-12)
    for k in ('ECE', 'MCE', 'cwECE', 'NLL', 'Brier'):
        assert data[k] == pytest.approx(metrics[k], rel=1e-12)
    empty = [i for i, n in enumerate(data['count']) if n == 0]
    assert all(data['accuracy'][i] is None for i in empty)
    assert not list(tmp_path.glob('sub/.tmp-*'))  # atomic write leaves no temporary file


def test_label_resolution_resize():
    """Logits at another size are resized (bilinear) to the label size before binning."""
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(C, 4, 5, generator=g) * 3
    label = torch.randint(0, C, (1, 8, 10), generator=g)
    metrics, metric = evaluate([dict(seg_logits=dict(data=logits), gt_sem_seg=dict(data=label))])
    resized = F.interpolate(logits[None], size=(8, 10), mode='bilinear', align_corners=False)[0]
    expected = multiclass_calibration_error(resized.softmax(0).flatten(1).T, label.flatten(),
                                            num_classes=C, n_bins=15, norm='l1')
    assert metrics['ECE'] == pytest.approx(expected.item(), abs=1e-6)
    assert metric.summarize(metric.results)['num_pixels'] == 80


def test_nothing_valid_gives_nan_not_a_crash():
    metric = CalibrationMetric()
    assert all(np.isnan(v) for v in metric.compute_metrics([]).values())
    label = torch.full((1, 4, 4), 255)
    metrics, _ = evaluate([dict(seg_logits=dict(data=torch.randn(C, 4, 4)),
                                gt_sem_seg=dict(data=label))])
    assert set(metrics) == {'ECE', 'MCE', 'cwECE', 'NLL', 'Brier'}
    assert all(np.isnan(v) for v in metrics.values())
