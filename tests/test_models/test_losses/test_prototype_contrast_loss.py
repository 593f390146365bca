"""PrototypeContrastLoss's regulariser (ATP's Propagate, [U]): the pull term by hand, and that pixel
weights of 0 and classes without statistics are skipped."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.losses.prototype_contrast_loss import prototype_contrast_loss


def test_regulariser_adds_the_mean_pull_to_the_own_prototype():
    emb = F.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8]]), dim=1).t().reshape(1, 2, 1, 2)
    labels = torch.tensor([[[0, 1]]])
    means = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised inside: e_0, e_1
    seen = torch.tensor([True, True])
    plain = prototype_contrast_loss(emb, labels, means, seen, temperature=0.5)
    reg = prototype_contrast_loss(emb, labels, means, seen, temperature=0.5, reg_weight=2.0)
    # pixel 0: cos to its prototype 1.0; pixel 1: 0.8 -> pull = mean(1 - cos) = 0.1
    assert float(reg - plain) == pytest.approx(2.0 * 0.1, abs=1e-6)
    # the CE part by hand
    ce0 = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + math.exp(0.0)))
    ce1 = -math.log(math.exp(0.8 / 0.5) / (math.exp(0.6 / 0.5) + math.exp(0.8 / 0.5)))
    assert float(plain) == pytest.approx((ce0 + ce1) / 2, abs=1e-5)


def test_weight_zero_and_unseen_classes_are_skipped():
    emb = F.normalize(torch.randn(1, 3, 2, 2), dim=1)
    labels = torch.tensor([[[0, 1], [2, 2]]])
    means = torch.randn(3, 3)
    seen = torch.tensor([True, True, False])
    weights = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    loss = prototype_contrast_loss(emb, labels, means, seen, reg_weight=1.0, weights=weights)
    # only pixel (0, 0) remains: class 0 against class 1 (class 2 has no statistics)
    only = prototype_contrast_loss(emb[..., :1, :1], labels[..., :1, :1], means, seen,
                                   reg_weight=1.0)
    torch.testing.assert_close(loss, only)
    none = prototype_contrast_loss(emb, torch.full((1, 2, 2), 255), means, seen, reg_weight=1.0)
    assert float(none) == 0.0
