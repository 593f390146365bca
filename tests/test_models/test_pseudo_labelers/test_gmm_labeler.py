"""GMMLabeler (UPLR's UPST labels) and the class uncertainty it records."""
import math

import pytest
import torch

from mmsfda.models.pseudo_labelers import IGNORE_INDEX
from mmsfda.models.pseudo_labelers.class_uncertainty import (ClassUncertainty,
                                                             pixel_uncertainty, top_k_mask)
from mmsfda.models.pseudo_labelers.gmm_labeler import STATUS, GMMLabeler


def probs_with_uncertainty(pred, unc, num_classes):
    """[1, C, H, W] probabilities whose argmax is ``pred`` [H, W] and whose normalised entropy is
    about ``unc`` [H, W] (mass 1 - e on the class, e spread over the others; e solved by bisection)."""
    lo, hi = torch.zeros_like(unc, dtype=torch.float64), torch.full_like(unc, 0.85,
                                                                          dtype=torch.float64)
    for _ in range(60):
        e = (lo + hi) / 2
        p = torch.stack([1 - e] + [e / (num_classes - 1)] * (num_classes - 1), 0)
        h = -torch.special.xlogy(p, p).sum(0) / math.log(num_classes)
        lo, hi = torch.where(h < unc, e, lo), torch.where(h < unc, hi, e)
    e = ((lo + hi) / 2).float()
    probs = (e / (num_classes - 1))[None].repeat(num_classes, 1, 1)
    probs.scatter_(0, pred[None], (1 - e)[None])
    return probs[None]


def test_pixel_uncertainty_by_hand():
    p = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]]).T[None, :, :, None]
    u = pixel_uncertainty(p)[0, :, 0]
    torch.testing.assert_close(u, torch.tensor([0.0, 1.0, math.log(2) / math.log(3)]))


def test_class_uncertainty_and_top_k_by_hand():
    cu = ClassUncertainty(num_classes=4, top_k=2)
    p = torch.tensor([[0.9, 0.1, 0, 0], [0.6, 0.4, 0, 0], [0.2, 0.7, 0.1, 0],
                      [0.25, 0.25, 0.25, 0.25]]).T[None, :, :, None]  # 4 pixels, class 3 empty
    cu.reset_stats()
    cu.accumulate(p[..., :2, :])
    cu.accumulate(p[..., 2:, :])
    cu.finalize()
    u = pixel_uncertainty(p)[0, :, 0].double()
    expected = torch.tensor([(u[0] + u[1] + u[3]) / 3, u[2], 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(cu.values, expected)
    assert cu.present.tolist() == [True, True, False, False]
    assert cu.uncertain_classes == sorted([0, 1], key=lambda c: -float(expected[c]))
    # fewer present classes than k: only the present ones
    assert top_k_mask(torch.tensor([0.1, 0.9, 0.5]), torch.tensor([True, False, False]),
                      2).tolist() == [True, False, False]


def test_summary_round_trip_and_bad_files():
    cu = ClassUncertainty(3, top_k=1)
    cu.add(torch.tensor([0, 1, 1]), torch.tensor([0.1, 0.5, 0.7]))
    cu.finalize()
    summary = cu.summary(['a', 'b', 'c'])
    other = ClassUncertainty(3, top_k=1)
    other.load_summary(summary, 'f.json', ['a', 'b', 'c'])
    assert other.uncertain_classes == [1] and torch.equal(other.values, cu.values)
    with pytest.raises(ValueError, match='f.json: num_classes is 3.*19 classes'):
        ClassUncertainty(19).load_summary(summary, 'f.json')
    with pytest.raises(ValueError, match='f.json: classes'):
        other.load_summary(summary, 'f.json', ['a', 'b', 'x'])
    with pytest.raises(ValueError, match='finite'):
        other.load_summary(dict(summary, class_uncertainty=[0.1, float('nan'), 0.2]), 'f.json')


def _label(labeler, batches):
    labeler.reset_stats()
    for p in batches:
        labeler.accumulate(p)
    labeler.finalize()
    return [labeler(p) for p in batches]


def test_bimodal_classes_keep_their_certain_mode_streamed_over_batches():
    """Two classes with a certain and an uncertain mode: the certain pixels keep their label, the
    uncertain ones are ignored; statistics streamed over two batches equal one batch."""
    g = torch.Generator().manual_seed(0)
    h, w = 40, 50
    pred = torch.randint(0, 2, (h, w), generator=g)
    mode = torch.rand(h, w, generator=g) < 0.6  # certain pixels
    unc = torch.where(mode, 0.05 + 0.02 * torch.randn(h, w, generator=g),
                      0.6 + 0.05 * torch.randn(h, w, generator=g)).clamp(0.001, 0.95)
    probs = probs_with_uncertainty(pred, unc, 3)
    one = GMMLabeler(num_classes=3, top_k=1, min_pixels=10)
    out = _label(one, [probs])[0]
    assert [STATUS[int(s)] for s in one.status] == ['gmm', 'gmm', 'empty']
    kept = out.labels[0] != IGNORE_INDEX
    assert torch.equal(kept, mode)
    assert torch.equal(out.labels[0][kept], pred[kept])
    assert one.gmm_means[:2, 0].lt(0.1).all()  # the certain component is column 0
    two = GMMLabeler(num_classes=3, top_k=1, min_pixels=10)
    outs = _label(two, [probs[..., :20, :], probs[..., 20:, :]])
    torch.testing.assert_close(two.gmm_means, one.gmm_means)
    assert torch.equal(torch.cat([o.labels for o in outs], 1), out.labels)
    torch.testing.assert_close(two.class_uncertainty.values, one.class_uncertainty.values)


def test_fallbacks_are_explicit_and_never_nan():
    """too few pixels, constant uncertainties (collapsed), one mode, an empty class, NaN pixels."""
    g = torch.Generator().manual_seed(1)
    h, w = 30, 40
    pred = torch.zeros(h, w, dtype=torch.long)
    pred[:, 20:] = 1  # class 1: constant uncertainty
    pred[:, 30:] = 2  # class 2: one wide mode
    pred[0, :3] = 3  # class 3: 3 pixels
    unc = 0.05 + 0.5 * (torch.rand(h, w, generator=g) < 0.5).float() + 0.01 * torch.randn(
        h, w, generator=g)
    unc[:, 20:30] = 0.3
    unc[:, 30:] = 0.3 + 0.05 * torch.randn(h, 10, generator=g)
    probs = probs_with_uncertainty(pred, unc.clamp(0.001, 0.9), 5)
    probs[0, :, 5, 5] = float('nan')
    lab = GMMLabeler(num_classes=5, min_pixels=10, min_separation=2.0)
    out = _label(lab, [probs])[0]
    status = [STATUS[int(s)] for s in lab.status]
    assert status == ['gmm', 'collapsed', 'single_mode', 'too_few', 'empty']
    assert int(out.labels[0, 5, 5]) == IGNORE_INDEX and float(out.weights[0, 5, 5]) == 0
    assert not torch.isnan(out.weights).any()
    u = pixel_uncertainty(torch.nan_to_num(probs))[0]
    mean = lab.class_uncertainty.values.float()
    for c in (1, 2, 3):  # fallback: at most the class mean; constant classes are kept whole
        m = (pred == c) & ~torch.isnan(probs[0].sum(0))
        kept = out.labels[0][m] != IGNORE_INDEX
        assert torch.equal(kept, u[m] <= mean[c] + 1e-6)
    assert (out.labels[0][pred == 1] == 1).all()


def test_round_state_round_trip():
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(3 * torch.randn(1, 4, 20, 20, generator=g), 1)
    a = GMMLabeler(num_classes=4, top_k=2, min_pixels=5)
    _label(a, [probs])
    b = GMMLabeler(num_classes=4, top_k=2, min_pixels=5)
    b.load_round_state(a.round_state(), 'labeler_state.pt')
    assert 'histogram' not in a.round_state()  # scratch, not state
    assert torch.equal(a(probs).labels, b(probs).labels)
    with pytest.raises(ValueError, match='labeler_state.pt'):
        GMMLabeler(num_classes=5).load_round_state(a.round_state(), 'labeler_state.pt')
