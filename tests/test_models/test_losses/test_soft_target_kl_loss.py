"""SoftTargetKLLoss (ATP's black-box distillation): the KL value by hand, padding, bad input."""
import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.losses.soft_target_kl_loss import soft_target_kl_loss


def test_value_is_the_mean_pixel_kl():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, 5, generator=g)
    q = torch.softmax(2 * torch.randn(2, 4, 3, 5, generator=g), 1)
    expected = (q * (q.log() - logits.log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(soft_target_kl_loss(logits, q), expected, rtol=1e-5, atol=1e-6)
    # mmseg-free reference: torch's kl_div summed over classes, averaged over pixels
    ref = F.kl_div(logits.log_softmax(1), q, reduction='none').sum(1).mean()
    torch.testing.assert_close(soft_target_kl_loss(logits, q), ref, rtol=1e-4, atol=1e-6)


def test_zero_when_matching_and_padding_counts_zero():
    logits = torch.randn(1, 3, 2, 2)
    q = torch.softmax(logits, 1)
    assert float(soft_target_kl_loss(logits, q)) == pytest.approx(0.0, abs=1e-6)
    q[..., 1] = 0  # a padded column: targets summing to 0 add nothing
    assert float(soft_target_kl_loss(logits, q)) == pytest.approx(0.0, abs=1e-6)


def test_gradient_moves_towards_the_targets_and_shape_error():
    logits = torch.zeros(1, 2, 1, 1, requires_grad=True)
    q = torch.tensor([0.9, 0.1]).view(1, 2, 1, 1)
    soft_target_kl_loss(logits, q).backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]
    with pytest.raises(ValueError, match='same shape'):
        soft_target_kl_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, 3))
