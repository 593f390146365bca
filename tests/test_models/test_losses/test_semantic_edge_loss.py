"""SemanticEdgeL1Loss: label edges, both comparisons against a direct computation."""
import pytest
import torch
from mmseg.registry import MODELS

from mmsfda.models.losses.semantic_edge_loss import label_edges, laplacian


def test_label_edges_are_class_boundaries():
    labels = torch.zeros(1, 4, 6, dtype=torch.long)
    labels[:, :, 3:] = 2
    labels[0, 0, 0] = 255
    edges = label_edges(labels)
    expected = torch.zeros(1, 4, 6, dtype=torch.bool)
    expected[:, :, 2:4] = True  # both sides of the 0 | 2 boundary
    expected[0, 0, :2] = expected[0, 1, 0] = True  # around the ignored pixel
    assert torch.equal(edges, expected)
    # With ignore_index, nothing next to an ignored pixel is an edge.
    no_ignore = label_edges(labels, ignore_index=255)
    assert not no_ignore[0, :2, :2].any() and no_ignore[0, 3, 2:4].all()


def test_laplacian_of_a_constant_is_zero_and_of_a_spike_the_stencil():
    assert laplacian(torch.full((1, 2, 5, 5), 3.0)).abs().max() == 0
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    out = laplacian(x)[0, 0]
    assert out[2, 2] == -4 and out[1, 2] == out[2, 1] == out[3, 2] == out[2, 3] == 1
    assert out.abs().sum() == 8


@pytest.mark.parametrize('compare', ['laplacian', 'pixels'])
def test_loss_matches_direct_computation(compare):
    torch.manual_seed(0)
    translated = torch.randn(2, 3, 8, 10, requires_grad=True)
    original = torch.randn(2, 3, 8, 10)
    labels = torch.randint(0, 3, (2, 8, 10))
    loss = MODELS.build(dict(type='SemanticEdgeL1Loss', compare=compare, loss_weight=20.0))
    out = loss(translated, original, labels)
    a, b = (laplacian(translated), laplacian(original)) if compare == 'laplacian' \
        else (translated, original)
    mask = label_edges(labels)
    direct = sum((a[i, :, mask[i]] - b[i, :, mask[i]]).abs().sum() for i in range(2)) \
        / (3 * mask.sum())
    torch.testing.assert_close(out, 20.0 * direct)
    out.backward()
    assert translated.grad.abs().sum() > 0
    assert loss.loss_name == 'loss_edge'


def test_no_edge_is_zero_with_a_graph():
    x = torch.randn(1, 3, 4, 4, requires_grad=True)
    out = MODELS.build(dict(type='SemanticEdgeL1Loss'))(x, torch.randn(1, 3, 4, 4),
                                                        torch.ones(1, 4, 4, dtype=torch.long))
    assert out.item() == 0
    out.backward()


def test_bad_input():
    with pytest.raises(ValueError, match='compare'):
        MODELS.build(dict(type='SemanticEdgeL1Loss', compare='sobel'))
    with pytest.raises(ValueError, match=r'labels \[B, H, W\]'):
        MODELS.build(dict(type='SemanticEdgeL1Loss'))(torch.zeros(1, 3, 4, 4),
                                                      torch.zeros(1, 3, 4, 4),
                                                      torch.zeros(1, 4, 5, dtype=torch.long))
