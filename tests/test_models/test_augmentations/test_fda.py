"""FDA amplitude swap against the per-image numpy implementation (the reference's centred block)."""
import numpy as np
import pytest
import torch

from mmsfda.models.augmentations import FDA, fda_swap, fda_swap_numpy, low_freq_mask


@pytest.mark.parametrize('shape,beta', [((32, 64), 0.01), ((32, 64), 0.09), ((24, 40), 0.2)])
def test_matches_a_per_image_numpy_loop(shape, beta):
    g = torch.Generator().manual_seed(0)
    src = torch.rand(3, 3, *shape, generator=g, dtype=torch.float64) * 255
    tgt = torch.rand(3, 3, *shape, generator=g, dtype=torch.float64) * 255
    out = fda_swap(src, tgt, beta)
    ref = np.stack([fda_swap_numpy(s.numpy(), t.numpy(), beta) for s, t in zip(src, tgt)])
    assert np.allclose(out.numpy(), ref, atol=1e-8)
    b = int(np.floor(min(shape) * beta))
    if b:
        assert not torch.allclose(out, src)  # the style changed something


def test_low_frequency_window_and_identity_cases():
    mask = low_freq_mask(8, 10, 0.25)  # b = 2
    assert mask.sum() == 16 and mask[:2, :2].all() and mask[-2:, -2:].all() and not mask[2:6].any()
    src = torch.rand(1, 3, 16, 16) * 255
    # An image with its own amplitude is itself; a window of 0 pixels changes nothing.
    assert torch.allclose(fda_swap(src, src, 0.2), src, atol=1e-3)
    assert torch.allclose(fda_swap(src, torch.rand_like(src) * 255, 0.05), src, atol=1e-3)


def test_the_mean_colour_comes_from_the_target():
    src = torch.full((1, 3, 16, 16), 50.) + torch.rand(1, 3, 16, 16)
    tgt = torch.full((1, 3, 16, 16), 200.)
    out = fda_swap(src, tgt, 0.1)  # the DC term is the target's
    assert torch.allclose(out.mean((2, 3)), tgt.mean((2, 3)), atol=1e-3)


def test_module_works_on_normalised_batches_and_reuses_a_smaller_style_batch():
    mean, std = torch.tensor([123.7, 116.3, 103.5]), torch.tensor([58.4, 57.1, 57.4])
    raw = torch.rand(4, 3, 16, 32) * 255
    style = torch.rand(2, 3, 16, 32) * 255
    norm = lambda x: (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)  # noqa: E731
    out = FDA(beta=0.1)(norm(raw), norm(style), mean, std)
    expected = norm(fda_swap(raw, style[torch.tensor([0, 1, 0, 1])], 0.1))
    assert torch.allclose(out, expected, atol=1e-4)
    clipped = FDA(beta=0.1, clip=True)(norm(raw), norm(style), mean, std)
    raw_back = clipped * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)
    assert raw_back.min() >= -1e-3 and raw_back.max() <= 255 + 1e-3


@pytest.mark.parametrize('beta', [0.0, 0.5, -0.1, 0.7])
def test_beta_outside_the_open_interval_is_an_error(beta):
    with pytest.raises(ValueError, match=r'\(0, 0.5\)'):
        FDA(beta=beta)
    with pytest.raises(ValueError, match=r'\(0, 0.5\)'):
        fda_swap(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), beta)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='same shape'):
        fda_swap(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9), 0.1)
    with pytest.raises(ValueError, match='differ'):
        FDA()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9), torch.zeros(3), torch.ones(3))
