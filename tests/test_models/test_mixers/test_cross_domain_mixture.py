"""CrossDomainMixture, DiGA's ClassMix rule and the photometric augmentation."""
import pytest
import torch
from mmseg.registry import MODELS

MEAN = torch.tensor([123.675, 116.28, 103.53])
STD = torch.tensor([58.395, 57.12, 57.375])


def test_classmix_diga_rule_floor_and_ignore():
    mix = MODELS.build(dict(type='ClassMix', include_ignore=True, half='floor',
                            always_paste_ignore=True))
    labels = torch.tensor([[[0, 1, 2, 255]]]).expand(1, 4, 4)
    for seed in range(5):
        chosen = mix.choose_classes(labels, torch.Generator().manual_seed(seed))
        # n = 4 values (255 counts) -> floor(4 / 2) = 2 drawn, and 255 always
        assert bool(chosen[0, 255]) and 1 <= int(chosen[0, :3].sum()) <= 2
        assert int(chosen[0, :3].sum()) + int(chosen[0, 255]) in (2, 3)
    assert MODELS.build(dict(type='ClassMix')).half == 'ceil'  # DACS default unchanged
    with pytest.raises(ValueError, match='half'):
        MODELS.build(dict(type='ClassMix', half='round'))


def test_mixture_composition():
    torch.manual_seed(0)
    img = torch.randn(2, 3, 8, 8)
    target = torch.randn(3, 3, 8, 8)
    labels = torch.randint(0, 3, (2, 8, 8))
    mixture = MODELS.build(dict(type='CrossDomainMixture', beta=0.4,
                                translator=dict(type='FDATranslatedView',
                                                fda=dict(type='FDA', beta=0.1))))
    assert mixture.needs_target
    g = torch.Generator().manual_seed(3)
    views = mixture(img, labels, target, MEAN, STD, generator=g)
    assert torch.equal(views.mixed, torch.where(views.mask.unsqueeze(1), views.augmented,
                                                views.translated))
    # the mask is a union of whole classes of the source label
    for i in range(2):
        for c in labels[i].unique():
            assert views.mask[i][labels[i] == c].unique().numel() == 1
    # photometric view with beta = 0: the image itself
    mixture.beta = 0.0
    assert torch.allclose(mixture.photometric_view(img, MEAN, STD), img)
    with pytest.raises(ValueError, match='needs target images'):
        mixture(img, labels, None, MEAN, STD)


def test_no_translator_is_the_photometric_view():
    mixture = MODELS.build(dict(type='CrossDomainMixture', beta=0.4, translator=None))
    assert not mixture.needs_target
    img = torch.randn(2, 3, 8, 8)
    views = mixture(img, torch.zeros(2, 8, 8, dtype=torch.long), None, MEAN, STD,
                    generator=torch.Generator().manual_seed(0))
    assert views.mask is None and views.mixed is views.augmented


def test_photometric_augment_all_ops():
    aug = MODELS.build(dict(type='PhotometricAugment', jitter_p=1.0, grayscale_p=1.0, blur_p=1.0,
                            sharpness_p=1.0))
    img = (torch.rand(2, 3, 8, 8) * 255 - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    out = aug(img, MEAN, STD, generator=torch.Generator().manual_seed(0))
    raw = out * STD.view(1, 3, 1, 1) + MEAN.view(1, 3, 1, 1)
    assert raw.min() > -1e-3 and raw.max() < 255 + 1e-3
    assert torch.allclose(raw[:, 0], raw[:, 1], atol=1e-3)  # grey, then blurred: still grey
    none = MODELS.build(dict(type='PhotometricAugment', jitter_p=0, grayscale_p=0, blur_p=0,
                             sharpness_p=0))
    assert torch.equal(none(img, MEAN, STD), img)
    with pytest.raises(ValueError, match='grayscale_p'):
        MODELS.build(dict(type='PhotometricAugment', grayscale_p=1.5))
