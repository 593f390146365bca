"""NegativeLearningLoss (Cal-SFDA / LDBE): rank selection, the drawn rank, clamp and gradients."""
import math

import pytest
import torch

from mmsfda.models.losses.negative_learning_loss import (NegativeLearningLoss, draw_negative_rank,
                                                         negative_learning_loss)
from mmsfda.models.pseudo_labelers.pseudo_labels import PseudoLabels


def reference(logits, rank):
    """-log(1 - p) of the rank-th most probable class (sorted by hand), mean over all pixels."""
    p = torch.softmax(logits.double(), dim=1)
    neg = torch.argsort(p, dim=1, descending=True)[:, rank:rank + 1]
    return -(1 - p.gather(1, neg)).clamp(1e-5, 1).log().mean()


def test_rank_picks_the_right_class():
    # one pixel, probabilities in the order class 2 > 0 > 4 > 1 > 3
    logits = torch.tensor([3.0, 1.0, 4.0, 0.0, 2.0], dtype=torch.float64).view(1, 5, 1, 1)
    p = torch.softmax(logits, 1).flatten()
    for rank, cls in enumerate([2, 0, 4, 1, 3]):
        loss = negative_learning_loss(logits, rank=rank)
        assert loss.item() == pytest.approx(-math.log(1 - p[cls].item()), rel=1e-12)
    # many pixels with different orders, labelled or not
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 3, 4, dtype=torch.float64) * 2
    for rank in range(7):
        assert torch.allclose(negative_learning_loss(logits, rank=rank), reference(logits, rank))


def test_drawn_rank_window_and_seed():
    ranks = set()
    for seed in range(300):
        torch.manual_seed(seed)
        ranks.add(draw_negative_rank(19, 3))
    assert ranks == set(range(5, 12))  # floor(19/2) - 1 + {-3..3}: topk(p, k)[:, -1]
    ranks = set()
    for seed in range(300):
        torch.manual_seed(seed)
        ranks.add(draw_negative_rank(4, 3))
    assert ranks == {1, 2, 3}  # 1 + {-3..3} clamped to [1, C-1]
    assert {draw_negative_rank(19, 0) for _ in range(20)} == {8}
    # the module draws one rank per call from torch's seed
    torch.manual_seed(1)
    logits = torch.randn(2, 19, 3, 3, dtype=torch.float64) * 3
    loss_fn = NegativeLearningLoss()
    torch.manual_seed(7)
    first = loss_fn(logits)
    torch.manual_seed(7)
    assert torch.equal(loss_fn(logits), first)
    torch.manual_seed(7)
    rank = draw_negative_rank(19, 3)
    assert torch.allclose(first, reference(logits, rank))
    assert any(torch.allclose(first, reference(logits, r)) for r in range(6, 13))


def test_all_pixels_count_and_labels_are_not_used():
    torch.manual_seed(2)
    logits = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    labels = torch.full((2, 3, 3), 255)
    pl = PseudoLabels(labels, torch.zeros(2, 3, 3))
    torch.manual_seed(3)
    with_pl = NegativeLearningLoss(loss_weight=0.5)(logits, pl)
    torch.manual_seed(3)
    without = NegativeLearningLoss(loss_weight=0.5)(logits)
    assert torch.equal(with_pl, without) and with_pl > 0
    torch.manual_seed(3)
    assert torch.allclose(with_pl, 0.5 * reference(logits, draw_negative_rank(5, 3)))


def test_clamp_keeps_it_finite():
    logits = torch.full((1, 3, 2, 2), -1e4)
    logits[:, 0] = 1e4  # p = 1 for class 0: 1 - p = 0
    logits.requires_grad_(True)
    loss = negative_learning_loss(logits, rank=0)
    assert loss.item() == pytest.approx(-math.log(1e-5), rel=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    loss = negative_learning_loss(logits.detach(), rank=1, clamp_min=1e-3)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_lowers_negative_probability():
    from mmseg.registry import MODELS
    loss_fn = MODELS.build(dict(type='NegativeLearningLoss', rank_window=0))
    assert isinstance(loss_fn, NegativeLearningLoss) and loss_fn.loss_name == 'loss_nl'
    torch.manual_seed(4)
    logits = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: negative_learning_loss(x, rank=3), (logits, ))
    loss = loss_fn(logits)  # rank_window=0: always rank floor(6/2) - 1 = 2
    assert torch.allclose(loss, reference(logits.detach(), 2))
    loss.backward()
    with torch.no_grad():
        p = torch.softmax(logits, 1)
        neg = torch.argsort(p, dim=1, descending=True)[:, 2:3]
        stepped = torch.softmax(logits - 1.0 * logits.grad, 1)
    assert (stepped.gather(1, neg) < p.gather(1, neg)).all()
    assert -(1 - stepped.gather(1, neg)).log().mean() < loss


def test_errors():
    logits = torch.randn(1, 4, 2, 2)
    with pytest.raises(ValueError, match='rank'):
        negative_learning_loss(logits, rank=4)
    with pytest.raises(ValueError, match='2 classes'):
        negative_learning_loss(torch.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match='loss_'):
        NegativeLearningLoss(loss_name='nl')
    with pytest.raises(ValueError, match='rank_window'):
        NegativeLearningLoss(rank_window=-1)


# ------------------------------------------------------------------ ATP's configurations
def test_threshold_negatives_by_hand():
    """ATP: every class below tau_n is a negative; -mean over them of log(1 - p)."""
    from mmsfda.models.losses.negative_learning_loss import (masked_negative_loss,
                                                             negative_label_mask)
    probs = torch.tensor([0.7, 0.25, 0.04, 0.01]).view(1, 4, 1, 1)
    neg = negative_label_mask(probs, 'threshold', tau_n=0.05)
    assert neg.view(-1).tolist() == [False, False, True, True]
    logits = probs.log()
    expected = -(math.log(1 - 0.04) + math.log(1 - 0.01)) / 2
    assert float(masked_negative_loss(logits, neg)) == pytest.approx(expected, rel=1e-5)
    low = negative_label_mask(probs, 'lowest', num_lowest=1)
    assert low.view(-1).tolist() == [False, False, False, True]
    # a pixel without negatives does not count; none at all gives 0
    assert float(masked_negative_loss(logits, torch.zeros_like(neg))) == 0.0


def test_rank_configuration_equals_the_calsfda_loss():
    from mmsfda.models.losses.negative_learning_loss import (masked_negative_loss,
                                                             negative_label_mask)
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 3, 3)
    neg = negative_label_mask(logits.softmax(1), 'rank', rank=3)
    assert torch.allclose(masked_negative_loss(logits, neg), negative_learning_loss(logits, rank=3))


def test_teacher_negatives_need_teacher_probs():
    from mmsfda.models.pseudo_labelers import PseudoLabels
    logits = torch.randn(1, 4, 2, 2)
    loss_fn = NegativeLearningLoss(selection='threshold', tau_n=0.3, probs_from='teacher')
    with pytest.raises(ValueError, match='teacher'):
        loss_fn(logits, PseudoLabels(torch.zeros(1, 2, 2).long(), torch.ones(1, 2, 2)))
    teacher = torch.tensor([0.6, 0.2, 0.1, 0.1]).view(1, 4, 1, 1).expand(1, 4, 2, 2)
    pl = PseudoLabels(torch.zeros(1, 2, 2).long(), torch.ones(1, 2, 2), probs=teacher)
    p = logits.softmax(1)
    expected = -(1 - p[:, 1:]).log().mean()  # classes 1-3 are below 0.3 at every pixel
    assert torch.allclose(loss_fn(logits, pl), expected, atol=1e-6)
    for bad in (dict(selection='all'), dict(probs_from='oracle'), dict(tau_n=1.0)):
        with pytest.raises(ValueError):
            NegativeLearningLoss(**bad)
