import numpy as np
import pytest
import torch

from mmsfda.models.pseudo_labelers import IGNORE_INDEX
from mmsfda.models.pseudo_labelers.class_balanced_labeler import (
    ClassBalancedLabeler, histogram_top_fraction_threshold)
from mmseg.registry import MODELS

C = 4


def random_probs(seed, b=2, h=16, w=16, c=C):
    g = torch.Generator().manual_seed(seed)
    # Skew the logits so the classes have different frequencies and confidence ranges.
    logits = torch.randn(b, c, h, w, generator=g) * 3 + torch.arange(c).view(1, c, 1, 1) * 0.5
    return logits.softmax(dim=1)


def numpy_thresholds(probs, proportion):
    conf, pred = probs.max(dim=1)
    conf, pred = conf.flatten().numpy().astype(np.float64), pred.flatten().numpy()
    return {k: np.quantile(conf[pred == k], 1 - proportion) for k in range(probs.shape[1])
            if (pred == k).any()}


def test_registered():
    labeler = MODELS.build(dict(type='ClassBalancedLabeler', num_classes=C, proportion=0.3))
    assert isinstance(labeler, ClassBalancedLabeler)


def test_online_hand_made():
    # Class 0: confidences 0.5..0.9; class 1: 0.95 and 0.55.
    conf = torch.tensor([[[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.55]]])
    pred = torch.tensor([[[0, 0, 0, 0, 0, 1, 1]]])
    probs = torch.zeros(1, 2, 1, 7)
    probs.scatter_(1, pred.unsqueeze(1), conf.unsqueeze(1))
    probs.scatter_(1, (1 - pred).unsqueeze(1), (1 - conf).unsqueeze(1))
    out = ClassBalancedLabeler(num_classes=2, proportion=0.4)(probs)
    # numpy: quantile(0.6) of [.5 .6 .7 .8 .9] = 0.74; of [.55 .95] = 0.79.
    assert torch.allclose(out.extras['thresholds'], torch.tensor([0.74, 0.79]))
    assert out.labels.tolist() == [[[255, 255, 255, 0, 0, 1, 255]]]
    assert out.weights.tolist() == [[[0, 0, 0, 1, 1, 1, 0]]]


def test_online_thresholds_equal_numpy_quantile():
    probs = random_probs(0)
    labeler = ClassBalancedLabeler(num_classes=C, proportion=0.2)
    out = labeler(probs)
    ref = numpy_thresholds(probs, 0.2)
    assert len(ref) == C
    for k, v in ref.items():
        assert out.extras['thresholds'][k].item() == pytest.approx(v, abs=1e-6)
    # The buffer holds the thresholds used, and about 20 % of each class is kept.
    assert torch.equal(labeler.thresholds, out.extras['thresholds'])
    conf, pred = probs.max(1)
    for k in range(C):
        kept = (out.labels == k).sum().item()
        assert kept == pytest.approx(0.2 * (pred == k).sum().item(), abs=1.0)
    assert torch.equal(out.weights, (out.labels != IGNORE_INDEX).float())
    assert torch.equal(out.labels[out.labels != IGNORE_INDEX], pred[out.labels != IGNORE_INDEX])


def test_offline_within_one_bin_of_numpy():
    probs = random_probs(1, b=4, h=64, w=64)
    labeler = ClassBalancedLabeler(num_classes=C, proportion=0.3, mode='offline', num_bins=1000)
    labeler.reset_stats()
    labeler.accumulate(probs)
    thresholds = labeler.finalize()
    ref = numpy_thresholds(probs, 0.3)
    conf, pred = probs.max(1)
    assert len(ref) == C
    for k, v in ref.items():
        values = np.sort(conf[pred == k].numpy().astype(np.float64))
        # Within a bin width, plus the spacing of the samples around the quantile.
        r = int(0.7 * (len(values) - 1))
        gap = values[min(r + 2, len(values) - 1)] - values[max(r - 1, 0)]
        assert abs(thresholds[k].item() - v) <= 1 / 1000 + gap
        assert abs(thresholds[k].item() - v) <= 2 / 1000
        kept = (values >= thresholds[k].item()).mean()
        assert kept == pytest.approx(0.3, abs=0.005)
    out = labeler(probs)
    assert torch.equal(out.extras['thresholds'], thresholds)
    conf, pred = probs.max(1)
    assert torch.equal(out.labels, torch.where(conf >= thresholds[pred], pred, torch.tensor(255)))


def test_histogram_threshold_interpolates_inside_the_bin():
    # 10 bins over [0, 1]; class 0: 4 values in [0.5, 0.6), 6 in [0.8, 0.9); class 1 empty.
    hist = torch.zeros(2, 10, dtype=torch.long)
    hist[0, 5], hist[0, 8] = 4, 6
    t, counts = histogram_top_fraction_threshold(hist, 0.2)
    # Keep 2 of the 6 values of bin 8, assumed uniform: the top third of the bin.
    assert t[0].item() == pytest.approx(0.9 - 0.1 / 3)
    assert counts.tolist() == [10, 0] and t[1].item() == 0
    t, _ = histogram_top_fraction_threshold(hist, 1.0)
    assert t[0].item() == pytest.approx(0.5)  # keep everything: the lower edge of the lowest bin
    t, _ = histogram_top_fraction_threshold(hist, 0.6)
    assert t[0].item() == pytest.approx(0.8)  # exactly the 6 values of bin 8


def test_offline_streaming_equals_concatenation():
    batches = [random_probs(s, b=1, h=8, w=12) for s in range(3)]
    streamed = ClassBalancedLabeler(num_classes=C, mode='offline', num_bins=100)
    streamed.reset_stats()
    for probs in batches:
        streamed.accumulate(probs)
    streamed.finalize()
    whole = ClassBalancedLabeler(num_classes=C, mode='offline', num_bins=100)
    whole.reset_stats()
    whole.accumulate(torch.cat(batches))
    whole.finalize()
    assert torch.equal(streamed.hist, whole.hist)
    assert streamed.hist.sum() == 3 * 8 * 12
    assert torch.equal(streamed.thresholds, whole.thresholds)


def test_offline_requires_finalize():
    labeler = ClassBalancedLabeler(num_classes=C, mode='offline')
    with pytest.raises(RuntimeError):
        labeler(random_probs(0))


def test_class_never_predicted_gets_default():
    probs = torch.zeros(1, 3, 2, 2)
    probs[:, 0] = 0.9
    probs[:, 1] = 0.1  # classes 1 and 2 are never the argmax
    labeler = ClassBalancedLabeler(num_classes=3, mode='offline', default_threshold=0.42)
    labeler.reset_stats()
    labeler.accumulate(probs)
    thresholds = labeler.finalize()
    assert thresholds[1].item() == pytest.approx(0.42) and thresholds[2].item() == pytest.approx(0.42)
    assert labeler.initialized.tolist() == [True, False, False]
    # All of class 0 is in one bin: the threshold is interpolated inside it.
    assert abs(thresholds[0].item() - 0.9) <= 1 / labeler.num_bins


def test_online_momentum_and_eval_mode():
    labeler = ClassBalancedLabeler(num_classes=C, proportion=0.5, momentum=0.25)
    p1, p2 = random_probs(3), random_probs(4)
    t1 = labeler(p1).extras['thresholds']
    ref1 = torch.tensor([numpy_thresholds(p1, 0.5)[k] for k in range(C)], dtype=torch.float32)
    assert torch.allclose(t1, ref1, atol=1e-6)  # first appearance sets the value
    t2 = labeler(p2).extras['thresholds']
    ref2 = torch.tensor([numpy_thresholds(p2, 0.5)[k] for k in range(C)], dtype=torch.float32)
    assert torch.allclose(t2, 0.75 * ref1 + 0.25 * ref2, atol=1e-6)
    labeler.eval()
    t3 = labeler(p1).extras['thresholds']
    assert torch.equal(t3, t2) and torch.equal(labeler.thresholds, t2)


def test_absent_class_keeps_running_threshold():
    labeler = ClassBalancedLabeler(num_classes=3, proportion=0.5, momentum=0.5)
    probs = torch.zeros(1, 3, 1, 4)
    probs[0, 0] = torch.tensor([0.6, 0.7, 0.8, 0.9])
    probs[0, 1] = 1 - probs[0, 0]
    labeler(probs)
    assert labeler.thresholds[1].item() == pytest.approx(0.5)  # default, untouched
    assert labeler.initialized.tolist() == [True, False, False]


def test_all_invalid_batch():
    labeler = ClassBalancedLabeler(num_classes=C)
    before = labeler.thresholds.clone()
    out = labeler(random_probs(0), valid_mask=torch.zeros(2, 16, 16, dtype=torch.bool))
    assert (out.labels == IGNORE_INDEX).all()
    assert torch.equal(out.weights, torch.zeros(2, 16, 16))
    assert torch.equal(labeler.thresholds, before)
    assert torch.isfinite(out.extras['thresholds']).all()


def test_state_dict_roundtrip():
    probs = random_probs(5)
    labeler = ClassBalancedLabeler(num_classes=C, mode='offline', num_bins=50)
    labeler.reset_stats()
    labeler.accumulate(probs)
    labeler.finalize()
    state = labeler.state_dict()
    assert {'thresholds', 'initialized', 'finalized'} <= set(state)
    assert 'hist' not in state  # transient pass state is not checkpointed
    restored = ClassBalancedLabeler(num_classes=C, mode='offline', num_bins=50)
    restored.load_state_dict(state)
    assert torch.equal(restored.thresholds, labeler.thresholds)
    a, b = labeler(probs), restored(probs)
    assert torch.equal(a.labels, b.labels)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ClassBalancedLabeler(num_classes=C, proportion=0)
    with pytest.raises(ValueError):
        ClassBalancedLabeler(num_classes=C, mode='batch')
    with pytest.raises(ValueError):
        ClassBalancedLabeler(num_classes=C, mode='offline', momentum=0.1)


def test_proportion_grows_per_round_up_to_the_cap():
    # CBST: 0.2, +0.05 per round, at most 0.5.
    labeler = ClassBalancedLabeler(num_classes=C, proportion=0.2, mode='offline',
                                   proportion_step=0.05, max_proportion=0.5, num_bins=100000)
    probs = random_probs(3, b=2, h=32, w=32)
    for r, proportion in ((0, 0.2), (2, 0.3), (9, 0.5)):
        labeler.set_round(r)
        assert labeler.current_proportion == pytest.approx(proportion)
        labeler.reset_stats()
        labeler.accumulate(probs)
        thresholds = labeler.finalize()
        for k, v in numpy_thresholds(probs, proportion).items():
            # CBST's k-th largest vs numpy's interpolated quantile: within a sample or two
            assert thresholds[k].item() == pytest.approx(v, abs=3e-3)
    with pytest.raises(ValueError, match='max_proportion'):
        ClassBalancedLabeler(num_classes=C, proportion=0.6, max_proportion=0.5)


def argsort_quantile_per_class(conf, pred, num_classes, q):
    """The former implementation (two stable float64 argsorts): the reference of the fast one."""
    counts = torch.bincount(pred, minlength=num_classes)
    conf = conf.double()
    by_conf = torch.argsort(conf, stable=True)
    by_class = torch.argsort(pred[by_conf], stable=True)
    grouped = conf[by_conf][by_class]
    starts = torch.cumsum(counts, 0) - counts
    pos = q * (counts - 1).clamp(min=0).double()
    lo = pos.floor().long()
    hi = torch.minimum(lo + 1, (counts - 1).clamp(min=0))
    frac = pos - lo.double()
    last = grouped.numel() - 1
    v_lo, v_hi = grouped[(starts + lo).clamp(max=last)], grouped[(starts + hi).clamp(max=last)]
    values = v_lo + frac * (v_hi - v_lo)
    return torch.where(counts > 0, values, torch.zeros_like(values)), counts


@pytest.mark.parametrize('seed, q', [(0, 0.8), (1, 0.5), (2, 0.0), (3, 1.0), (4, 0.37)])
def test_fast_quantile_is_bit_identical_to_the_argsort_one(seed, q):
    from mmsfda.models.pseudo_labelers.class_balanced_labeler import quantile_per_class
    g = torch.Generator().manual_seed(seed)
    probs = (torch.randn(2, 7, 24, 40, generator=g) * 3).softmax(1)
    probs[0, :, :4] = 1 / 7  # exact ties, and confidences 0 and 1
    probs[1, :, :2] = 0.0
    probs[1, 3, :2] = 1.0
    conf, pred = probs.max(1)
    conf, pred = conf.flatten(), pred.flatten()
    pred[pred == 5] = 6  # class 5 absent
    got, counts = quantile_per_class(conf, pred, 7, q)
    ref, ref_counts = argsort_quantile_per_class(conf, pred, 7, q)
    assert torch.equal(counts, ref_counts) and counts[5] == 0
    assert got.dtype == torch.float64 and torch.equal(got, ref)
    # Half-precision confidences are compared as float32, as before.
    got16, _ = quantile_per_class(conf.half(), pred, 7, q)
    assert torch.equal(got16, argsort_quantile_per_class(conf.half().float(), pred, 7, q)[0])


def test_offline_protocol_is_declared():
    from mmsfda.models.pseudo_labelers.base_pseudo_labeler import BasePseudoLabeler
    offline = ClassBalancedLabeler(num_classes=C, mode='offline')
    online = ClassBalancedLabeler(num_classes=C, mode='online')
    assert offline.needs_statistics and not online.needs_statistics
    for name in ('set_round', 'reset_stats', 'accumulate', 'finalize', 'round_state',
                 'load_round_state'):
        assert getattr(BasePseudoLabeler, name).__doc__, name
    with pytest.raises(RuntimeError, match='needs_statistics is False'):
        online.accumulate(random_probs(0))
    with pytest.raises(ValueError, match='round'):
        offline.set_round(-1)


def test_accumulate_counts_only_valid_finite_pixels():
    probs = random_probs(6)
    valid = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.3
    nan = probs.clone()
    nan[0, 1, 0, 0] = float('nan')
    a = ClassBalancedLabeler(num_classes=C, mode='offline')
    a.accumulate(nan, valid)
    b = ClassBalancedLabeler(num_classes=C, mode='offline')
    keep = valid.clone()
    keep[0, 0, 0] = False
    b.accumulate(probs, keep)
    assert torch.equal(a.hist, b.hist) and int(a.hist.sum()) == int(keep.sum())


def test_round_state_roundtrip():
    probs = random_probs(7)
    labeler = ClassBalancedLabeler(num_classes=C, mode='offline', proportion=0.2,
                                   proportion_step=0.1)
    labeler.set_round(2)
    labeler.accumulate(probs)
    labeler.finalize()
    state = labeler.round_state()
    assert set(state) == {'round', 'thresholds', 'initialized', 'finalized'}
    assert all(v.device.type == 'cpu' for v in state.values())
    other = ClassBalancedLabeler(num_classes=C, mode='offline', proportion=0.2,
                                 proportion_step=0.1)
    other.load_round_state(state)
    assert int(other.round) == 2 and other.current_proportion == pytest.approx(0.4)
    assert torch.equal(other(probs).labels, labeler(probs).labels)
    with pytest.raises(ValueError, match='shape'):
        ClassBalancedLabeler(num_classes=C + 1, mode='offline').load_round_state(state, 'x.pt')
    with pytest.raises(ValueError, match='x.pt'):
        MODELS.build(dict(type='ThresholdLabeler')).load_round_state(state, 'x.pt')


def test_labels_carry_thresholds_and_prediction():
    probs = random_probs(8)
    out = ClassBalancedLabeler(num_classes=C)(probs)
    assert torch.equal(out.thresholds, out.extras['thresholds'])
    assert torch.equal(out.extras['prediction'], probs.max(1).indices)
