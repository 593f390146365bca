"""PrototypeEstimator, ProjectionHead and PrototypeContrastLoss (ATP's Propagate)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.heads.projection_head import ProjectionHead
from mmsfda.models.heads.prototype_estimator import PrototypeEstimator
from mmsfda.models.losses.prototype_contrast_loss import (PrototypeContrastLoss,
                                                          prototype_contrast_loss)


def test_running_statistics_equal_those_of_every_feature_seen():
    torch.manual_seed(0)
    est = PrototypeEstimator(num_classes=3, channels=4, memory_length=2)
    feats, labels = [], []
    for n in (5, 7, 3):
        f, y = torch.randn(n, 4), torch.randint(0, 3, (n, ))
        y[0] = 255  # ignored
        est.update(f, y)
        feats.append(f[1:])
        labels.append(y[1:])
    f, y = torch.cat(feats), torch.cat(labels)
    for c in range(3):
        fc = f[y == c]
        assert est.count[c] == len(fc)
        assert torch.allclose(est.mean[c], fc.mean(0), atol=1e-5)
        assert torch.allclose(est.var[c], fc.var(0, unbiased=False), atol=1e-5)
    assert est.memory_fill.max() <= 2 and 'memory' in est.state_dict()
    with pytest.raises(ValueError, match='feats'):
        est.update(torch.randn(2, 5), torch.zeros(2).long())


def test_projection_head_unit_embeddings():
    head = ProjectionHead(in_channels=[3, 5], channels=8, num_convs=2, in_index=[0, 1],
                          input_transform='resize_concat')
    out = head([torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 2)])
    assert out.shape == (2, 8, 4, 4)
    assert torch.allclose(out.norm(dim=1), torch.ones(2, 4, 4), atol=1e-5)
    with pytest.raises(ValueError, match='input_transform'):
        ProjectionHead(3, input_transform='concat')


def test_contrast_loss_by_hand():
    # one pixel of class 0 with embedding e0; prototypes e0 and e1 (class 2 unseen)
    emb = torch.tensor([1., 0.]).view(1, 2, 1, 1)
    means = torch.tensor([[2., 0.], [0., 3.], [5., 5.]])
    seen = torch.tensor([True, True, False])
    labels = torch.zeros(1, 1, 1).long()
    loss = prototype_contrast_loss(emb, labels, means, seen, temperature=0.5, reg_weight=0.0)
    expected = -math.log(math.exp(2) / (math.exp(2) + math.exp(0)))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    # pull term: 1 - cos(e0, mu_0) = 0 here; unseen class or weight 0: nothing to learn
    assert float(prototype_contrast_loss(emb, labels, means, seen, 0.5, 1.0)) == \
        pytest.approx(expected, rel=1e-5)
    assert float(prototype_contrast_loss(emb, labels + 2, means, seen)) == 0.0
    assert float(prototype_contrast_loss(emb, labels, means, seen,
                                         weights=torch.zeros(1, 1, 1))) == 0.0


def test_contrast_loss_gradient_pulls_to_the_own_prototype():
    emb = F.normalize(torch.randn(1, 4, 2, 2), dim=1).requires_grad_()
    means = torch.eye(3, 4)
    loss = PrototypeContrastLoss(temperature=0.1)(emb, torch.zeros(1, 2, 2).long(), means,
                                                  torch.ones(3, dtype=torch.bool))
    loss.backward()
    assert (emb.grad[:, 0] < 0).all()  # descending raises the similarity to prototype 0
