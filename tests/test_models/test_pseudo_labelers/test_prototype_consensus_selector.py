"""PrototypeConsensusSelector: keep offline labels where the nearest prototype agrees."""
import torch

from mmsfda.models.pseudo_labelers.prototype_consensus_selector import prototype_consensus


def test_by_hand():
    offline = torch.tensor([[[0, 1], [2, 255]]])
    probs = torch.zeros(1, 3, 2, 2)
    probs[0, 0, 0, 0] = probs[0, 2, 0, 1] = probs[0, 2, 1, 0] = probs[0, 1, 1, 1] = 1.0
    pl = prototype_consensus(offline, probs)
    assert pl.labels.tolist() == [[[0, 255], [2, 255]]]
    assert pl.weights.tolist() == [[[1., 0.], [1., 0.]]]
    assert torch.equal(pl.extras['prediction'], offline)


def test_upsamples_feature_resolution():
    offline = torch.zeros(1, 4, 4, dtype=torch.long)
    probs = torch.tensor([1., 0.]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    pl = prototype_consensus(offline, probs)
    assert pl.labels.shape == (1, 4, 4) and bool((pl.labels == 0).all())
