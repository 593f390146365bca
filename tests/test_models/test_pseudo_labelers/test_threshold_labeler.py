import pytest
import torch

from mmsfda.models.pseudo_labelers import IGNORE_INDEX, PseudoLabels
from mmsfda.models.pseudo_labelers.threshold_labeler import ThresholdLabeler
from mmseg.registry import MODELS


def make_probs(conf, labels, num_classes=3):
    """[B, C, H, W] probabilities whose max is ``conf`` at class ``labels`` (rest spread evenly)."""
    conf = torch.as_tensor(conf, dtype=torch.float32)
    labels = torch.as_tensor(labels)
    rest = ((1 - conf) / (num_classes - 1)).unsqueeze(1).expand(-1, num_classes, -1, -1)
    probs = rest.clone()
    probs.scatter_(1, labels.unsqueeze(1), conf.unsqueeze(1))
    return probs


@pytest.fixture
def batch():
    # Image 0: 3 of 8 pixels >= 0.75 (one exactly at the threshold); image 1: 1 of 8.
    conf = [[[0.9, 0.75, 0.8, 0.5], [0.5, 0.5, 0.6, 0.7]],
            [[0.5, 0.5, 0.5, 0.5], [0.5, 0.99, 0.5, 0.5]]]
    labels = [[[0, 1, 2, 0], [1, 2, 0, 1]],
              [[2, 2, 1, 1], [0, 0, 1, 2]]]
    return make_probs(conf, labels), torch.tensor(labels)


def test_registered():
    labeler = MODELS.build(dict(type='ThresholdLabeler', threshold=0.9, weight_mode='pixel'))
    assert isinstance(labeler, ThresholdLabeler)


def test_dacs_weight_is_batch_fraction(batch):
    probs, labels = batch
    out = ThresholdLabeler(threshold=0.75)(probs)
    assert isinstance(out, PseudoLabels)
    assert out.labels.dtype == torch.int64 and out.weights.dtype == torch.float32
    assert torch.equal(out.labels, labels)  # labels are kept on every pixel
    assert torch.allclose(out.weights, torch.full((2, 2, 4), 4 / 16))
    assert torch.allclose(out.extras['dacs_weight'], torch.tensor([0.25, 0.25]))
    assert out.probs is not None and out.probs.shape == probs.shape


def test_dacs_weight_per_image(batch):
    probs, labels = batch
    out = ThresholdLabeler(threshold=0.75, per_image=True)(probs)
    assert torch.equal(out.labels, labels)
    assert torch.allclose(out.weights[0], torch.full((2, 4), 3 / 8))
    assert torch.allclose(out.weights[1], torch.full((2, 4), 1 / 8))


def test_default_threshold_is_dacs():
    labeler = ThresholdLabeler()
    probs = make_probs([[[0.97, 0.96]]], [[[0, 1]]])
    out = labeler(probs)
    assert labeler.threshold == 0.968
    assert torch.allclose(out.weights, torch.full((1, 1, 2), 0.5))


def test_pixel_mode(batch):
    probs, labels = batch
    out = ThresholdLabeler(threshold=0.75, weight_mode='pixel')(probs)
    confident = probs.max(1).values >= 0.75
    assert confident.sum() == 4
    assert torch.equal(out.labels, torch.where(confident, labels, torch.tensor(IGNORE_INDEX)))
    assert torch.equal(out.weights, confident.float())


def test_none_mode(batch):
    probs, labels = batch
    out = ThresholdLabeler(threshold=0.75, weight_mode='none')(probs)
    assert torch.equal(out.labels, labels)
    assert torch.equal(out.weights, torch.ones(2, 2, 4))


def test_ignore_top_bottom_after_fraction():
    probs = make_probs(torch.full((1, 5, 2), 0.5).index_fill_(1, torch.tensor([0]), 0.99),
                       torch.zeros(1, 5, 2, dtype=torch.long))
    out = ThresholdLabeler(threshold=0.9, ignore_top=1, ignore_bottom=2)(probs)
    # The fraction counts the cropped top row (2 of 10 pixels), as DAFormer does.
    expected = torch.full((1, 5, 2), 0.2)
    expected[:, [0, 3, 4]] = 0
    assert torch.allclose(out.weights, expected)
    assert (out.labels[:, [0, 3, 4]] == IGNORE_INDEX).all()
    assert (out.labels[:, 1:3] == 0).all()


def test_all_invalid_gives_zero_weights_no_nan(batch):
    probs, _ = batch
    for mode in ('dacs', 'pixel', 'none'):
        out = ThresholdLabeler(threshold=0.75, weight_mode=mode)(
            probs, valid_mask=torch.zeros(2, 2, 4, dtype=torch.bool))
        assert (out.labels == IGNORE_INDEX).all()
        assert torch.equal(out.weights, torch.zeros(2, 2, 4))
        assert not torch.isnan(out.weights).any()


def test_nonfinite_probs_are_ignored(batch):
    probs, labels = batch
    probs = probs.clone()
    probs[0, :, 0, 0] = float('nan')
    out = ThresholdLabeler(threshold=0.75, weight_mode='dacs')(probs)
    assert out.labels[0, 0, 0] == IGNORE_INDEX and out.weights[0, 0, 0] == 0
    # The fraction is over the 15 valid pixels, of which 3 are confident.
    assert torch.allclose(out.weights[1], torch.full((2, 4), 3 / 15))
    assert torch.isfinite(out.weights).all() and torch.isfinite(out.probs).all()


def test_no_confident_pixel_gives_zero_weight(batch):
    probs, labels = batch
    out = ThresholdLabeler(threshold=0.999)(probs)
    assert torch.equal(out.weights, torch.zeros(2, 2, 4))
    assert torch.equal(out.labels, labels)


def test_no_gradient(batch):
    probs, _ = batch
    probs = probs.clone().requires_grad_(True)
    out = ThresholdLabeler(threshold=0.75)(probs)
    assert not out.weights.requires_grad and not out.probs.requires_grad


def test_bad_arguments():
    with pytest.raises(ValueError):
        ThresholdLabeler(weight_mode='soft')
    with pytest.raises(ValueError):
        ThresholdLabeler(ignore_top=-1)
    with pytest.raises(ValueError):
        ThresholdLabeler()(torch.rand(2, 3, 4))
