"""pseudo_label_stats: per-class counts of a PseudoLabels batch."""
import pytest
import torch

from mmsfda.models.pseudo_labelers import PseudoLabels, pseudo_label_stats


def test_counts_by_hand():
    labels = torch.tensor([[[0, 1, 255], [2, 2, 1]]])  # (1, 2, 3)
    weights = torch.tensor([[[0.5, 1.0, 0.0], [0.25, 0.25, 1.0]]])
    probs = torch.zeros(1, 3, 2, 3)
    argmax = torch.tensor([[[0, 1, 0], [2, 2, 2]]])
    probs.scatter_(1, argmax[:, None], 1.0)
    gt = torch.tensor([[[0, 2, 1], [2, 255, 1]]])
    s = pseudo_label_stats(PseudoLabels(labels, weights, probs), 3, gt=gt)
    assert s['pixels'].item() == 6
    assert s['labelled'].tolist() == [1, 2, 2]
    assert s['weight'].tolist() == [0.5, 2.0, 0.5]
    assert s['predicted'].tolist() == [2, 1, 3]
    # gt 255 at (1, 1): labelled 2 there but not evaluated
    assert s['evaluated'].tolist() == [1, 2, 1]
    assert s['correct'].tolist() == [1, 1, 1]
    assert all(v.dtype == torch.float64 for v in s.values())


def test_optional_parts_and_errors():
    labels = torch.full((2, 4, 4), 255)
    s = pseudo_label_stats(PseudoLabels(labels, torch.zeros(2, 4, 4)), 5)
    assert set(s) == {'pixels', 'labelled', 'weight'}
    assert s['labelled'].tolist() == [0] * 5
    # a per-image scalar weight (DACS) broadcasts
    labels[0, 0, 0] = 3
    s = pseudo_label_stats(PseudoLabels(labels, torch.tensor([0.7, 0.1])[:, None, None]), 5)
    assert s['weight'][3].item() == pytest.approx(0.7)
    with pytest.raises(ValueError, match='gt must have the shape'):
        pseudo_label_stats(PseudoLabels(labels, torch.ones(2, 4, 4)), 5, gt=labels[:, :2])


def test_predicted_comes_from_the_labelers_argmax():
    labels = torch.tensor([[[0, 1], [255, 1]]])
    prediction = torch.tensor([[[0, 1], [2, 2]]])
    probs = torch.zeros(1, 3, 2, 2)  # argmax 0 everywhere: must not be used
    pl = PseudoLabels(labels, torch.ones(1, 2, 2), probs, extras=dict(prediction=prediction))
    assert pseudo_label_stats(pl, 3)['predicted'].tolist() == [1, 1, 2]
    pl.extras.clear()
    assert pseudo_label_stats(pl, 3)['predicted'].tolist() == [4, 0, 0]


def test_non_finite_pixels_are_invalid():
    from mmsfda.models.pseudo_labelers.base_pseudo_labeler import finite_pixels
    probs = torch.full((1, 3, 1, 4), 1 / 3)
    probs[0, 0, 0, 0] = float('nan')
    probs[0, 1, 0, 1] = float('inf')
    probs[0, 2, 0, 2] = -float('inf')
    assert finite_pixels(probs).tolist() == [[[False, False, False, True]]]
    mask = torch.tensor([[[True, True, True, False]]])
    assert not finite_pixels(probs, mask).any()
