"""ClassPrototypes: capped running-mean initialisation, EMA update, distance softmax, checkpoints."""
import pytest
import torch

from mmsfda.models.heads.class_prototypes import ClassPrototypes


def test_initialisation_by_hand():
    p = ClassPrototypes(num_classes=3, feat_dim=2, min_pixels=2, max_count=2)
    p.start_init()
    feats = torch.zeros(1, 2, 1, 4)
    feats[0, :, 0] = torch.tensor([[1., 3., 5., 9.], [0., 0., 2., 2.]])
    labels = torch.tensor([[[0, 0, 1, 2]]])  # class 1 and 2 have one pixel < min_pixels
    p.accumulate(feats, labels)
    assert torch.allclose(p.centroids[0], torch.tensor([2., 0.])) and p.counts.tolist() == [1, 0, 0]
    p.accumulate(feats + 2, labels)  # mean of two images: ((2,0) + (4,2)) / 2
    assert torch.allclose(p.centroids[0], torch.tensor([3., 1.])) and p.counts[0] == 2
    p.accumulate(feats + 8, labels)  # count capped at 2: (3,1)*2/3 + (10,8)/3
    assert torch.allclose(p.centroids[0], (torch.tensor([3., 1.]) * 2 + torch.tensor([10., 8.])) / 3)
    assert p.counts[0] == 2
    p.finish_init()
    assert bool(p.initialized)


def test_ema_update_and_probs():
    p = ClassPrototypes(num_classes=2, feat_dim=1, momentum=0.5)
    p.centroids.copy_(torch.tensor([[0.], [10.]]))
    p.counts.fill_(1)
    feats = torch.tensor([2., 4., 100.]).view(1, 1, 1, 3)
    updated = p.ema_update(feats, torch.tensor([[[0, 0, 255]]]))
    assert updated.tolist() == [True, False]
    assert torch.allclose(p.centroids[:, 0], torch.tensor([1.5, 10.]))  # 0.5 * 0 + 0.5 * 3
    probs = p.probs(torch.tensor([1.5, 9.]).view(1, 1, 1, 2))
    expected = torch.softmax(-torch.tensor([[0., 8.5], [7.5, 1.]]), 1)
    assert torch.allclose(probs[0, :, 0].T, expected)
    p.counts[1] = 0  # a class never seen at initialisation cannot be nearest
    assert torch.equal(p.probs(torch.tensor([9.]).view(1, 1, 1, 1)).flatten(),
                       torch.tensor([1., 0.]))


def test_checkpoint_round_trip_and_mismatch():
    p = ClassPrototypes(num_classes=3, feat_dim=4)
    p.centroids.normal_()
    p.initialized.fill_(True)
    q = ClassPrototypes(num_classes=3, feat_dim=4)
    q.load_state_dict(p.state_dict())
    assert torch.equal(q.centroids, p.centroids) and bool(q.initialized)
    with pytest.raises(ValueError, match=r'shape \(3, 4\).*num_classes=5, feat_dim=4'):
        ClassPrototypes(num_classes=5, feat_dim=4).load_state_dict(p.state_dict())
    with pytest.raises(ValueError, match='feat_dim=4'):
        p.probs(torch.randn(1, 3, 2, 2))
