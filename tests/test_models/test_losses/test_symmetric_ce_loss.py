"""SymmetricCELoss (Cal-SFDA): RCE, weighted CE, threshold class weights, empty batches."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.losses.symmetric_ce_loss import (SymmetricCELoss, symmetric_ce_loss,
                                                    threshold_class_weight)
from mmsfda.models.pseudo_labelers.pseudo_labels import PseudoLabels


def make(seed=0, b=2, c=4, h=3, w=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, c, (b, h, w), generator=g)
    labels[torch.rand(b, h, w, generator=g) < 0.3] = 255
    return logits, labels


def rce_by_definition(logits, labels, clamp=1e-4):
    """-sum_k p_k log(clamp(onehot_k, A, 1)) with an explicit one-hot, mean over labelled pixels."""
    c = logits.shape[1]
    valid = labels != 255
    p = torch.softmax(logits, dim=1).permute(0, 2, 3, 1)[valid]  # (N_l, C)
    onehot = F.one_hot(labels[valid], c).to(p.dtype).clamp(clamp, 1.0)
    return (-(p * onehot.log()).sum(dim=1)).mean()


def test_rce_is_mae_like():
    logits, labels = make()
    ref = rce_by_definition(logits, labels)
    assert torch.allclose(symmetric_ce_loss(logits, labels, alpha=0.0, beta=1.0), ref)
    # the closed form -log(1e-4) * (1 - p_y)
    valid = labels != 255
    p_y = torch.softmax(logits, 1).gather(1, labels.clamp(max=3)[:, None])[:, 0][valid]
    assert torch.allclose(ref, (-math.log(1e-4) * (1 - p_y)).mean())
    # another clamp
    assert torch.allclose(symmetric_ce_loss(logits, labels, alpha=0.0, beta=1.0, rce_log_clamp=0.1),
                          rce_by_definition(logits, labels, clamp=0.1))


def test_weighted_ce_is_torch_weighted_mean():
    logits, labels = make(1)
    cw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    ref = F.cross_entropy(logits, labels, weight=cw, ignore_index=255)
    assert torch.allclose(symmetric_ce_loss(logits, labels, alpha=1.0, beta=0.0, class_weight=cw),
                          ref)
    # by hand: sum_i w_y ce_i / sum_i w_y over labelled pixels
    valid = labels != 255
    y = labels[valid]
    ce = -torch.log_softmax(logits, 1).permute(0, 2, 3, 1)[valid].gather(1, y[:, None])[:, 0]
    assert torch.allclose(ref, (cw[y] * ce).sum() / cw[y].sum())
    # unweighted: plain mean over labelled pixels
    assert torch.allclose(symmetric_ce_loss(logits, labels, alpha=1.0, beta=0.0), ce.mean())
    # both terms with Cal-SFDA's a = 0.1, b = 1
    assert torch.allclose(symmetric_ce_loss(logits, labels, class_weight=cw),
                          0.1 * ref + rce_by_definition(logits, labels))


def test_threshold_class_weights():
    theta = torch.tensor([0.5, 0.0, 0.9, -1.0], dtype=torch.float64)  # exp(-98) underflows float32
    w = threshold_class_weight(theta)
    inv = [1 / 0.5, 1 / 0.01, 1 / 0.9, 1 / 0.01]  # theta <= 0 -> 0.01
    z = sum(math.exp(v - 100.0) for v in inv)
    ref = torch.tensor([math.exp(v - 100.0) / z for v in inv], dtype=torch.float64)
    assert torch.allclose(w, ref, rtol=1e-10, atol=0)
    assert w[1] == w[3] and w[1] > 0.49  # the two "absent" classes share almost all the weight
    theta = torch.tensor([0.2, 0.4, 0.8])
    w = threshold_class_weight(theta, min_threshold=0.3)
    assert torch.allclose(w, torch.softmax(torch.tensor([5.0, 2.5, 1.25]), 0))
    assert w.argmax() == 0  # the lowest threshold weighs most


def test_module_uses_labeler_thresholds():
    from mmseg.registry import MODELS
    logits, labels = make(2)
    theta = torch.tensor([0.9, 0.6, 0.0, 0.95], dtype=torch.float64)
    pl = PseudoLabels(labels, (labels != 255).double(), thresholds=theta)
    loss_fn = MODELS.build(dict(type='SymmetricCELoss', loss_weight=2.0))
    assert isinstance(loss_fn, SymmetricCELoss) and loss_fn.loss_name == 'loss_sce'
    w = torch.softmax(1.0 / torch.tensor([0.9, 0.6, 0.01, 0.95], dtype=torch.float64), 0)
    ref = 0.1 * F.cross_entropy(logits, labels, weight=w, ignore_index=255) + \
        rce_by_definition(logits, labels)
    assert torch.allclose(loss_fn(logits, pl), 2.0 * ref)
    # fixed weights and no weights need no thresholds
    plain = PseudoLabels(labels, (labels != 255).double())
    fixed = SymmetricCELoss(threshold_weights=False, class_weight=[1.0, 2.0, 0.5, 3.0], alpha=1.0,
                            beta=0.0)
    assert torch.allclose(fixed(logits, plain), F.cross_entropy(
        logits, labels, weight=torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64),
        ignore_index=255))
    assert torch.allclose(SymmetricCELoss(threshold_weights=False)(logits, plain),
                          0.1 * F.cross_entropy(logits, labels, ignore_index=255)
                          + rce_by_definition(logits, labels))


def test_missing_thresholds_and_bad_arguments():
    logits, labels = make(3)
    plain = PseudoLabels(labels, (labels != 255).float())
    with pytest.raises(ValueError, match='labeler must provide class thresholds'):
        SymmetricCELoss()(logits, plain)
    with pytest.raises(ValueError, match='shape'):
        SymmetricCELoss()(logits, PseudoLabels(labels, plain.weights,
                                               thresholds=torch.ones(3)))
    with pytest.raises(ValueError, match='shape'):
        SymmetricCELoss(threshold_weights=False, class_weight=[1.0, 1.0])(logits, plain)
    with pytest.raises(ValueError, match='pseudo-labels'):
        SymmetricCELoss()(logits, None)
    with pytest.raises(ValueError, match='not both'):
        SymmetricCELoss(class_weight=[1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match='loss_'):
        SymmetricCELoss(loss_name='sce')
    with pytest.raises(ValueError, match='same resolution'):
        symmetric_ce_loss(logits, labels[:, :2])


@pytest.mark.parametrize('threshold_weights', [True, False])
def test_no_labelled_pixel_is_zero_with_zero_grad(threshold_weights):
    logits, labels = make(4)
    logits = logits.float().requires_grad_(True)
    labels = torch.full_like(labels, 255)
    pl = PseudoLabels(labels, torch.zeros(labels.shape),
                      thresholds=torch.tensor([0.5, 0.0, 0.7, 0.9]))
    loss = SymmetricCELoss(threshold_weights=threshold_weights)(logits, pl)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all() and torch.equal(logits.grad,
                                                             torch.zeros_like(logits.grad))


def test_gradient_raises_label_probability():
    logits, labels = make(5)
    logits.requires_grad_(True)
    cw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: symmetric_ce_loss(x, labels, class_weight=cw),
                                    (logits, ))
    loss = symmetric_ce_loss(logits, labels, class_weight=cw)
    loss.backward()
    valid = labels != 255
    # ignored pixels get no gradient
    assert torch.equal(logits.grad.permute(0, 2, 3, 1)[~valid],
                       torch.zeros_like(logits.grad.permute(0, 2, 3, 1)[~valid]))
    with torch.no_grad():
        stepped = logits - 0.5 * logits.grad
        p_before = torch.softmax(logits, 1).gather(1, labels.clamp(max=3)[:, None])[:, 0][valid]
        p_after = torch.softmax(stepped, 1).gather(1, labels.clamp(max=3)[:, None])[:, 0][valid]
    assert symmetric_ce_loss(stepped, labels, class_weight=cw) < loss
    assert (p_after > p_before).all()
