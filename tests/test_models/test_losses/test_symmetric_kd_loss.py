"""SymmetricKDLoss against a direct per-pixel computation."""
import pytest
import torch

from mmsfda.models.losses.symmetric_kd_loss import SymmetricKDLoss


def direct(student, teacher, weights, labels=None, ignore=None):
    """Loop over the ordered view pairs (a != b) and pixels: sum_c -p_T(a)_c log q_S(b)_c."""
    s_views, t_views = student.chunk(2), teacher.chunk(2)
    w = {(0, 1): weights[0], (1, 0): weights[1]}  # (teacher view, student view)
    total = 0.0
    for (a, b), wab in w.items():
        p = t_views[a].softmax(1)
        logq = s_views[b].log_softmax(1)
        acc, n = 0.0, 0
        B, C, H, W = p.shape
        for i in range(B):
            for y in range(H):
                for x in range(W):
                    if labels is not None and labels[i, y, x] == ignore:
                        continue
                    acc += float(-(p[i, :, y, x] * logq[i, :, y, x]).sum())
                    n += 1
        total += wab * acc / max(n, 1)
    return total


def test_matches_direct_computation_and_skips_same_view_pairs():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4, 3, 2, 3, generator=g)
    t = torch.randn(4, 3, 2, 3, generator=g)
    loss = SymmetricKDLoss(weights=(1.0, 0.5), loss_weight=0.25)
    assert torch.isclose(loss(s, t), torch.tensor(0.25 * direct(s, t, (1.0, 0.5))), atol=1e-5)
    # Same-view pairs skipped: the teacher's clean view never teaches the student's clean view,
    # so changing the student's clean logits changes only the (mixed -> clean) term.
    only_cm = SymmetricKDLoss(weights=(1.0, 0.0))
    s2 = s.clone()
    s2[:2] += torch.randn(2, 3, 2, 3, generator=g)
    assert torch.isclose(only_cm(s, t), only_cm(s2, t))


def test_ignore_index_masks_pixels():
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(2, 4, 3, 3, generator=g), torch.randn(2, 4, 3, 3, generator=g)
    labels = torch.randint(0, 4, (1, 3, 3), generator=g)
    labels[0, 0] = 255
    loss = SymmetricKDLoss(ignore_index=255)
    expected = direct(s, t, (1.0, 0.5), labels, 255)
    assert torch.isclose(loss(s, t, labels), torch.tensor(expected), atol=1e-5)
    assert not torch.isclose(loss(s, t, labels), SymmetricKDLoss()(s, t))


def test_teacher_detached():
    s = torch.randn(2, 3, 2, 2, requires_grad=True)
    t = torch.randn(2, 3, 2, 2, requires_grad=True)
    SymmetricKDLoss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and t.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match='2B images'):
        SymmetricKDLoss()(torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2))
    with pytest.raises(ValueError, match='two numbers'):
        SymmetricKDLoss(weights=(1.0, ))
    with pytest.raises(ValueError, match='needs the labels'):
        SymmetricKDLoss(ignore_index=255)(torch.randn(2, 2, 2, 2), torch.randn(2, 2, 2, 2))
