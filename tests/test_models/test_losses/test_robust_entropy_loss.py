"""RobustEntropyLoss (Cal-SFDA): batch-max / log C normalisation, eta, one softmax, detached max."""
import math

import pytest
import torch

from mmsfda.models.losses.entropy_loss import entropy_loss
from mmsfda.models.losses.robust_entropy_loss import RobustEntropyLoss, robust_entropy_loss


def direct_entropy(logits):
    p = torch.softmax(logits.double(), dim=1)
    return -(p * p.log()).sum(dim=1)  # (B, H, W)


def test_batch_max_value():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, 4) * 3
    h = direct_entropy(logits)
    hn = h / h.max()  # the max over both images
    assert torch.allclose(robust_entropy_loss(logits).double(), ((hn ** 2 + 1e-8) ** 2).mean(),
                          atol=1e-6)
    assert torch.allclose(robust_entropy_loss(logits, eta=1.0).double(), (hn ** 2 + 1e-8).mean(),
                          atol=1e-6)
    # the max over the batch, not per image
    per_image = h / h.flatten(1).max(dim=1).values[:, None, None]
    assert not torch.allclose(robust_entropy_loss(logits).double(),
                              ((per_image ** 2 + 1e-8) ** 2).mean(), atol=1e-4)


def test_log_c_value_is_fda():
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 3, 4) * 3
    hn = direct_entropy(logits) / math.log(5)
    ref = ((hn ** 2 + 1e-8) ** 2).mean()
    assert torch.allclose(robust_entropy_loss(logits, normalize='log_C').double(), ref, atol=1e-6)
    assert torch.allclose(robust_entropy_loss(logits, normalize='log_C'),
                          entropy_loss(logits, normalize=True, eta=2.0))
    # uniform predictions: Hn = 1 either way
    uniform = torch.zeros(1, 7, 2, 2)
    for normalize in ('batch_max', 'log_C'):
        assert robust_entropy_loss(uniform, normalize=normalize).item() == pytest.approx(1.0)


def test_one_softmax_not_two():
    torch.manual_seed(2)
    logits = torch.randn(2, 5, 3, 4, dtype=torch.float64) * 3
    # the public helper: p = softmax(x); H = -sum p * log_softmax(p)
    p = torch.softmax(logits, 1)
    h_bug = -(p * torch.log_softmax(p, 1)).sum(1)
    bug = (((h_bug / h_bug.max()) ** 2 + 1e-8) ** 2).mean()
    h = direct_entropy(logits)
    ok = (((h / h.max()) ** 2 + 1e-8) ** 2).mean()
    assert torch.allclose(robust_entropy_loss(logits), ok)
    assert not torch.allclose(robust_entropy_loss(logits), bug, atol=1e-3)


def test_confident_batch_is_finite():
    logits = torch.full((2, 3, 2, 2), -1e4, requires_grad=True)
    with torch.no_grad():
        logits[:, 1] = 1e4  # every entropy is exactly 0: no 0/0 in the batch-max normalisation
    loss = robust_entropy_loss(logits)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(1e-16, abs=1e-20)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_detached_max_and_gradient_lowers_every_entropy():
    torch.manual_seed(3)
    logits = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    loss = robust_entropy_loss(logits)
    loss.backward()
    # the gradient is that of a constant normaliser
    x = logits.detach().clone().requires_grad_(True)
    h = -(torch.softmax(x, 1) * torch.log_softmax(x, 1)).sum(1)
    m = h.detach().max()
    (((h / m) ** 2 + 1e-8) ** 2).mean().backward()
    assert torch.allclose(logits.grad, x.grad)
    # so a small step lowers the entropy of every pixel, the batch's most uncertain one included
    with torch.no_grad():
        h0 = direct_entropy(logits)
        h1 = direct_entropy(logits - 1e-2 * logits.grad)
    assert (h1 < h0).all()
    assert torch.autograd.gradcheck(lambda t: robust_entropy_loss(t, normalize='log_C'), (logits, ))


def test_module_interface():
    from mmseg.registry import MODELS
    loss_fn = MODELS.build(dict(type='RobustEntropyLoss', loss_weight=0.5, normalize='log_C'))
    assert isinstance(loss_fn, RobustEntropyLoss) and loss_fn.loss_name == 'loss_robust_entropy'
    torch.manual_seed(4)
    logits = torch.randn(2, 4, 3, 3)
    assert torch.allclose(loss_fn(logits, None),
                          0.5 * robust_entropy_loss(logits, normalize='log_C'))
    assert torch.allclose(RobustEntropyLoss(eta=1.0)(logits), robust_entropy_loss(logits, eta=1.0))
    with pytest.raises(ValueError, match='normalize'):
        RobustEntropyLoss(normalize='max')
    with pytest.raises(ValueError, match='normalize'):
        robust_entropy_loss(logits, normalize=True)
    with pytest.raises(ValueError, match='loss_'):
        RobustEntropyLoss(loss_name='ent')
