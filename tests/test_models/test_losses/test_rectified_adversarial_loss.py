"""UPLR's TGAA rectifier and the weighted GAN loss."""
import pytest
import torch

from mmsfda.models.losses.gan_loss import gan_loss
from mmsfda.models.losses.rectified_adversarial_loss import (rectified_gan_loss,
                                                             uncertainty_rectifier)


def test_rectifier_forms_by_hand():
    pred = torch.tensor([[[0, 1], [2, 2]]])
    values = torch.tensor([0.1, 0.4, 0.2, 0.0], dtype=torch.float64)
    present = torch.tensor([True, True, True, False])
    uncertain = torch.tensor([False, True, False, False])
    r = uncertainty_rectifier(pred, values, uncertain, present, 'ratio')
    mean = (0.1 + 0.4 + 0.2) / 3  # over present classes only
    torch.testing.assert_close(r, torch.tensor([[[0.1, 0.4], [0.2, 0.2]]]) / mean)
    r = uncertainty_rectifier(pred, values, uncertain, present, 'top_k')
    assert r.tolist() == [[[1.0, 2.0], [1.0, 1.0]]]
    # before any uncertainty is known: no rectification
    zero = uncertainty_rectifier(pred, torch.zeros(4), uncertain, torch.zeros(4, dtype=torch.bool),
                                 'ratio')
    assert (zero == 1).all()
    with pytest.raises(ValueError, match='ratio'):
        uncertainty_rectifier(pred, values, uncertain, present, 'entropy')


def test_weighted_gan_loss():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(2, 1, 2, 4, generator=g)
    ones = torch.ones(2, 64, 128)
    for mode in ('bce', 'lsgan'):
        torch.testing.assert_close(rectified_gan_loss(d, 0.0, ones, mode), gan_loss(d, 0.0, mode))
        # uniform weights of any size are normalised away; unnormalised they scale the loss
        torch.testing.assert_close(rectified_gan_loss(d, 0.0, 3 * ones, mode),
                                   gan_loss(d, 0.0, mode))
        torch.testing.assert_close(rectified_gan_loss(d, 0.0, 3 * ones, mode, normalize=False),
                                   3 * gan_loss(d, 0.0, mode))
    # a weight only on the top-left 32x32 pixels: only discriminator cell (0, 0) counts
    w = torch.zeros(2, 64, 128)
    w[:, :32, :32] = 1
    per = torch.nn.functional.binary_cross_entropy_with_logits(d, torch.zeros_like(d),
                                                               reduction='none')
    torch.testing.assert_close(rectified_gan_loss(d, 0.0, w, normalize=False),
                               per[:, :, 0, 0].sum() / per.numel())
