import pytest
import torch
from mmseg.registry import MODELS

import mmsfda  # noqa: F401

C = 3


def labeler(**kwargs):
    cfg = dict(type='ECEGuidedLabeler', num_classes=C, num_bins=10000)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def probs_from(conf, pred):
    """[B, C, H, W] probabilities with max ``conf`` at class ``pred``, the rest spread evenly."""
    conf, pred = torch.as_tensor(conf, dtype=torch.float32), torch.as_tensor(pred)
    rest = ((1 - conf) / (C - 1)).unsqueeze(1).expand(-1, C, *conf.shape[1:]).clone()
    return rest.scatter(1, pred.unsqueeze(1), conf.unsqueeze(1))


def test_thresholds_are_class_quantiles_of_reliability_scaled_confidence():
    torch.manual_seed(0)
    conf = torch.rand(2, 20, 20) * 0.6 + 0.4
    pred = torch.randint(0, C, (2, 20, 20))
    est = torch.tensor([0.1, 0.3])
    lab = labeler(cb_prop=0.2)
    lab.reset_stats()
    lab.accumulate(probs_from(conf, pred), est_ece=est)
    thr = lab.finalize()
    scaled = conf * (1 - est).view(2, 1, 1)
    for k in range(C):
        expected = torch.quantile(scaled[pred == k].double(), 0.8)
        # CBST's k-th largest vs torch's interpolated quantile: within a sample or two
        assert thr[k].item() == pytest.approx(expected.item(), abs=3e-3)


def test_without_ece_weighting_the_thresholds_ignore_the_estimate():
    conf = torch.rand(1, 16, 16) * 0.5 + 0.5
    pred = torch.randint(0, C, (1, 16, 16))
    a, b = labeler(ece_weighting=False), labeler(ece_weighting=False)
    for lab, est in ((a, 0.0), (b, 0.9)):
        lab.reset_stats()
        lab.accumulate(probs_from(conf, pred), est_ece=torch.tensor([est]))
        lab.finalize()
    assert torch.equal(a.thresholds, b.thresholds)
    with pytest.raises(ValueError, match='est_ece'):
        labeler().accumulate(probs_from(conf, pred))


def test_proportions_grow_per_round():
    lab = labeler(cb_prop=0.15, local_prop=0.1, increment=0.05)
    lab.set_round(2)
    assert lab.current_proportion == pytest.approx(0.25)
    assert lab.current_local_proportion == pytest.approx(0.2)


def test_labels_union_of_class_thresholds_and_each_images_top_pixels():
    lab = labeler(local_prop=0.25)
    lab.thresholds.copy_(torch.tensor([0.9, 0.5, 0.5]))
    lab.finalized.fill_(True)
    # image 0: all class 0 at 0.6 (below 0.9) except one pixel at 0.95: with 4 pixels the top 25%
    # is that pixel only. image 1: class 1 at 0.55 > 0.5: all labelled.
    conf = torch.tensor([[[0.6, 0.6, 0.6, 0.95]], [[0.55, 0.55, 0.55, 0.55]]])
    pred = torch.tensor([[[0, 0, 0, 0]], [[1, 1, 1, 1]]])
    out = lab(probs_from(conf, pred))
    assert out.labels.tolist() == [[[255, 255, 255, 0]], [[1, 1, 1, 1]]]
    assert out.weights.tolist() == [[[0, 0, 0, 1]], [[1, 1, 1, 1]]]
    assert torch.equal(out.extras['thresholds'], lab.thresholds)


def test_any_rule_labels_where_a_non_argmax_class_passes_its_threshold():
    lab = labeler(local_prop=0.0)
    lab.thresholds.copy_(torch.tensor([0.9, 0.3, 0.9]))
    lab.finalized.fill_(True)
    probs = torch.tensor([0.6, 0.35, 0.05]).view(1, C, 1, 1)
    assert lab(probs).labels.item() == 0  # class 1 passes 0.3: labelled with the argmax
    strict = labeler(local_prop=0.0, threshold_rule='argmax')
    strict.thresholds.copy_(lab.thresholds)
    strict.finalized.fill_(True)
    assert strict(probs).labels.item() == 255


def test_labelling_before_statistics_is_an_error():
    with pytest.raises(RuntimeError, match='finalize'):
        labeler()(probs_from(torch.full((1, 2, 2), 0.9), torch.zeros(1, 2, 2, dtype=torch.long)))


def test_round_and_thresholds_are_saved_with_the_model():
    lab = labeler()
    lab.set_round(3)
    lab.thresholds.fill_(0.7)
    other = labeler()
    other.load_state_dict(lab.state_dict())
    assert int(other.round) == 3 and torch.allclose(other.thresholds, torch.full((C, ), 0.7))
