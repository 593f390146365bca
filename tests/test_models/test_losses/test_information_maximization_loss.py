"""InformationMaximizationLoss (SHOT-IM) against a direct computation and SHOT's own formula."""
import math

import pytest
import torch

from mmsfda.models.losses.information_maximization_loss import (
    InformationMaximizationLoss, information_maximization_loss)


def direct(logits, ent_weight=1.0, div_weight=1.0, eps=0.0):
    """SHOT's code on the pixels as samples: Entropy(p).mean() - sum(-pbar * log(pbar + eps))."""
    c = logits.shape[1]
    p = torch.softmax(logits.double(), dim=1).permute(0, 2, 3, 1).reshape(-1, c)
    ent = (-p * torch.log(p + eps)).sum(dim=1).mean()
    pbar = p.mean(dim=0)
    div = (-pbar * torch.log(pbar + eps)).sum()
    return ent_weight * ent - div_weight * div


def test_value_matches_direct_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 4, 5) * 2
    out = information_maximization_loss(logits).double()
    assert torch.allclose(out, direct(logits), atol=1e-6)
    out = information_maximization_loss(logits, ent_weight=0.3, div_weight=2.0).double()
    assert torch.allclose(out, direct(logits, 0.3, 2.0), atol=1e-6)
    out = information_maximization_loss(logits, normalize=True).double()
    assert torch.allclose(out, direct(logits) / math.log(6), atol=1e-6)
    # SHOT adds eps=1e-5 inside the logs; the exact version agrees to that order
    assert torch.allclose(information_maximization_loss(logits).double(),
                          direct(logits, eps=1e-5), atol=1e-3)


def test_collapse_versus_diverse_confident_predictions():
    collapsed = torch.zeros(1, 4, 2, 2)
    collapsed[:, 2] = 50.0  # every pixel confidently class 2
    assert information_maximization_loss(collapsed).item() == pytest.approx(0.0, abs=1e-5)
    diverse = torch.zeros(1, 4, 2, 2)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        diverse[0, k, i, j] = 50.0  # confident and all classes used equally
    assert information_maximization_loss(diverse).item() == pytest.approx(-math.log(4), abs=1e-5)


def test_gradient_finite_when_a_class_is_absent():
    logits = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    logits[:, 0] = -1e3  # class 0 never predicted: pbar_0 underflows
    logits.requires_grad_(True)
    information_maximization_loss(logits).backward()
    assert torch.isfinite(logits.grad).all()
    x = torch.randn(1, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: information_maximization_loss(t, 1.0, 0.7), (x,))


def test_module_interface():
    from mmseg.registry import MODELS
    import mmsfda  # noqa: F401
    loss_fn = MODELS.build(dict(type='InformationMaximizationLoss', div_weight=0.5,
                                loss_weight=2.0))
    assert isinstance(loss_fn, InformationMaximizationLoss) and loss_fn.loss_name == 'loss_im'
    logits = torch.randn(2, 5, 3, 3)
    assert torch.allclose(loss_fn(logits, None).double(), 2.0 * direct(logits, 1.0, 0.5),
                          atol=1e-5)
    with pytest.raises(ValueError, match='loss_'):
        InformationMaximizationLoss(loss_name='im')
