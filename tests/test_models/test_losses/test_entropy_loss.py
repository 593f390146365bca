"""EntropyLoss (TENT / MinEnt / FDA's robust entropy) against direct computations."""
import math

import pytest
import torch

from mmsfda.models.losses.entropy_loss import EntropyLoss, entropy_loss, entropy_map


def direct_entropy(logits):
    p = torch.softmax(logits.double(), dim=1)
    return -(p * p.log()).sum(dim=1)  # (B, H, W)


def test_value_matches_direct_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, 4) * 3
    ref = direct_entropy(logits)
    assert torch.allclose(entropy_map(logits).double(), ref, atol=1e-6)
    assert torch.allclose(entropy_loss(logits).double(), ref.mean(), atol=1e-6)
    assert torch.allclose(entropy_loss(logits, normalize=True).double(), ref.mean() / math.log(5),
                          atol=1e-6)
    # FDA: normalised entropy, Charbonnier (H^2 + 1e-8)^eta
    hn = ref / math.log(5)
    assert torch.allclose(entropy_loss(logits, normalize=True, eta=2.0).double(),
                          ((hn ** 2 + 1e-8) ** 2).mean(), atol=1e-6)


def test_extremes_uniform_and_one_hot():
    uniform = torch.zeros(1, 7, 2, 2)
    assert entropy_loss(uniform).item() == pytest.approx(math.log(7), abs=1e-6)
    assert entropy_loss(uniform, normalize=True).item() == pytest.approx(1.0, abs=1e-6)
    confident = torch.full((1, 3, 2, 2), -1e4)
    confident[:, 1] = 1e4  # probabilities underflow to exactly 0: no NaN from 0 * log 0
    loss = entropy_loss(confident)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-6)


def test_module_interface_and_gradient():
    from mmseg.registry import MODELS
    import mmsfda  # noqa: F401
    loss_fn = MODELS.build(dict(type='EntropyLoss', loss_weight=0.5))
    assert isinstance(loss_fn, EntropyLoss) and loss_fn.loss_name == 'loss_entropy'
    torch.manual_seed(1)
    logits = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    loss = loss_fn(logits, None)  # TENT has no pseudo-labels
    assert torch.allclose(loss, 0.5 * direct_entropy(logits.detach()).mean())
    assert torch.autograd.gradcheck(lambda x: loss_fn(x, pseudo_labels=None), (logits,))
    # one gradient step lowers the entropy (what TENT relies on)
    loss.backward()
    with torch.no_grad():
        stepped = logits - 1.0 * logits.grad
    assert loss_fn(stepped) < loss


def test_loss_name_must_start_with_loss():
    with pytest.raises(ValueError, match='loss_'):
        EntropyLoss(loss_name='entropy')
