import math

import pytest
import torch

from mmsfda.models.mixers.strong_augment import (IMAGENET_MEAN, IMAGENET_STD, StrongAugment,
                                                 dacs_kernel_size, gaussian_blur, hsv_to_rgb,
                                                 rgb_to_hsv)
from mmseg.registry import MODELS

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def normalised(raw):
    return (raw - MEAN) / STD


def raw_images(b=3, h=12, w=16, seed=0):
    """0-255 images inside [20, 235] so that small jitters do not clamp."""
    g = torch.Generator().manual_seed(seed)
    return 20 + torch.rand(b, 3, h, w, generator=g) * 215


def test_registered():
    assert isinstance(MODELS.build(dict(type='StrongAugment', blur=False)), StrongAugment)


def test_keeps_shape_dtype_and_input():
    img = normalised(raw_images())
    before = img.clone()
    out = StrongAugment(color_jitter_p=1.0, blur_p=1.0)(img)
    assert out.shape == img.shape and out.dtype == img.dtype and out.device == img.device
    assert torch.equal(img, before)
    out16 = StrongAugment(color_jitter_p=1.0, blur_p=1.0)(img.double())
    assert out16.dtype == torch.float64


def test_identity_with_zero_probabilities():
    img = normalised(raw_images())
    assert torch.equal(StrongAugment(color_jitter_p=0.0, blur_p=0.0)(img), img)
    assert torch.equal(StrongAugment(color_jitter_p=0.0, blur=False)(img), img)


def test_changes_images_with_probability_one():
    img = normalised(raw_images())
    for share in (True, False):
        aug = StrongAugment(color_jitter_p=1.0, blur=False, share_decision=share)
        out = aug(img)
        assert all(not torch.allclose(out[i], img[i], atol=1e-3) for i in range(3))
        # DACS's kernel is ~10 % of the side: 12 x 16 images get a 1 x 1 kernel, so no blur.
        blur = StrongAugment(color_jitter_p=0.0, blur_p=1.0, blur_sigma=(0.5, 1.0),
                             share_decision=share)
        assert torch.equal(blur(img), img)
        big = normalised(raw_images(h=32, w=48))
        out = blur(big)
        assert all(not torch.allclose(out[i], big[i], atol=1e-3) for i in range(3))


def test_deterministic_under_manual_seed_and_generator():
    img = normalised(raw_images())
    aug = StrongAugment(color_jitter_p=0.5, blur_p=0.5, share_decision=False)
    torch.manual_seed(0)
    a = aug(img)
    torch.manual_seed(0)
    b = aug(img)
    assert torch.equal(a, b)
    c = aug(img, generator=torch.Generator().manual_seed(1))
    d = aug(img, generator=torch.Generator().manual_seed(1))
    assert torch.equal(c, d)
    outs = {aug(img, generator=torch.Generator().manual_seed(s)).sum().item() for s in range(5)}
    assert len(outs) > 1


def test_zero_strength_jitter_is_identity():
    img = normalised(raw_images())
    aug = StrongAugment(color_jitter_p=1.0, blur=False,
                        color_jitter_strength=dict(brightness=0, contrast=0, saturation=0, hue=0))
    assert torch.allclose(aug(img), img, atol=1e-4)


def test_brightness_is_an_additive_shift_within_strength():
    raw = raw_images()
    aug = StrongAugment(color_jitter_p=1.0, blur=False, share_decision=False,
                        color_jitter_strength=dict(brightness=0.05))
    out_raw = aug(normalised(raw)) * STD + MEAN
    shift = out_raw - raw
    for i in range(3):
        assert torch.allclose(shift[i], shift[i].mean().expand_as(shift[i]), atol=1e-3)
        assert abs(shift[i].mean().item()) <= 0.05 * 255 + 1e-3
    assert len({round(shift[i].mean().item(), 3) for i in range(3)}) == 3  # per-sample factors


def test_mean_std_override():
    mean, std = (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)
    raw = raw_images() / 255.0  # images already in [0, 1]: normalised with mean 0, std 255
    aug = StrongAugment(color_jitter_p=1.0, blur=False,
                        color_jitter_strength=dict(contrast=0.5))
    out = aug(raw, mean=mean, std=std, generator=torch.Generator().manual_seed(0))
    ratio = out / raw
    for i in range(3):  # contrast multiplies every pixel by one factor (no clamping here)
        r = ratio[i][out[i] < 1]
        assert torch.allclose(r, r.mean().expand_as(r), atol=1e-4)
        assert 0.5 <= r.mean().item() <= 1.5


def test_hsv_roundtrip_and_hue_rotation():
    rgb = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    hsv = rgb_to_hsv(red)
    hsv[:, 0] += 2 * math.pi / 3  # red rotated by 120 degrees is green
    assert torch.allclose(hsv_to_rgb(hsv), torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1), atol=1e-5)


@pytest.mark.parametrize('side', [4, 9, 10, 11, 512, 1024, 1080])
def test_kernel_size_matches_dacs_formula(side):
    expected = int(math.floor(math.ceil(0.1 * side) - 0.5 + math.ceil(0.1 * side) % 2))
    assert dacs_kernel_size(side) == expected
    assert dacs_kernel_size(side) % 2 == 1


def test_blur_preserves_constants_and_mass():
    const = torch.full((2, 3, 9, 11), 0.3)
    sigma = torch.tensor([0.5, 1.0])
    assert torch.allclose(gaussian_blur(const, sigma, (5, 5)), const, atol=1e-6)
    impulse = torch.zeros(2, 3, 9, 11)
    impulse[:, :, 4, 5] = 1.0
    out = gaussian_blur(impulse, sigma, (5, 7))
    assert torch.allclose(out.sum(dim=(2, 3)), torch.ones(2, 3), atol=1e-5)
    assert out[1, 0, 4, 5] < out[0, 0, 4, 5] < 1  # larger sigma spreads more
    assert torch.allclose(out[:, :, 4, 5 - 1], out[:, :, 4, 5 + 1])  # symmetric
