"""StyleAugmentor: shapes and scales, seeded randomness, alpha's two ends, the published layout, the
weight files (round trip, missing files, mismatched keys), frozen eval-mode networks."""
import pytest
import torch

from mmsfda.models.augmentations.style_augmentor import StyleAugmentor
from mmsfda.models.augmentations.style_networks import StylePredictor, StyleTransformer
from mmsfda.utils.pretrained import PRETRAINED

TINY = dict(transformer=dict(channels=(4, 8, 16), num_res_blocks=1), predictor=dict(width=1 / 16))
MEAN = torch.tensor([123.675, 116.28, 103.53])
STD = torch.tensor([58.395, 57.12, 57.375])


def tiny(seed=0, **kwargs):
    torch.manual_seed(seed)
    return StyleAugmentor(**dict(TINY, **kwargs))


@pytest.fixture(scope='module')
def images():
    return torch.rand(2, 3, 32, 64, generator=torch.Generator().manual_seed(1))


def gen(seed):
    return torch.Generator().manual_seed(seed)


def random_distribution(aug, seed=3):
    g = gen(seed)
    d = aug.embedding_mean.numel()
    a = torch.randn(d, d, generator=g) / d**0.5
    aug.set_embedding_distribution(torch.randn(d, generator=g), a @ a.T + 0.1 * torch.eye(d),
                                   torch.randn(d, generator=g))


def test_shapes_and_scales(images):
    aug = tiny()
    out = aug(images, generator=gen(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert 0 < out.min() and out.max() < 1  # sigmoid output
    # normalised in, normalised out: the same images as the [0, 1] path
    norm = (images * 255 - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    out_norm = aug(norm, MEAN, STD, generator=gen(0))
    torch.testing.assert_close(out_norm * STD.view(1, 3, 1, 1) + MEAN.view(1, 3, 1, 1),
                               out * 255, atol=1e-3, rtol=0)
    # sizes that are not multiples of the stride, and the downsampled transformer
    odd = images[..., :30, :62]
    assert aug(odd).shape == odd.shape
    assert tiny(downsamples=1)(images).shape == images.shape
    assert tiny(downsamples=1)(odd).shape == odd.shape
    with pytest.raises(ValueError, match='both mean and std'):
        aug(norm, MEAN, None)
    with pytest.raises(ValueError, match='alpha'):
        tiny(alpha=1.5)


def test_seeded_randomness(images):
    aug = tiny()
    a, b = aug(images, generator=gen(5)), aug(images, generator=gen(5))
    assert torch.equal(a, b)
    assert not torch.allclose(a, aug(images, generator=gen(6)))
    # without a generator: torch's global stream (what RandomStateHook seeds per iteration)
    torch.manual_seed(7)
    c = aug(images)
    torch.manual_seed(7)
    assert torch.equal(c, aug(images))
    # the two images of a batch get different styles
    same = aug(images[:1].expand(2, -1, -1, -1), generator=gen(5))
    assert not torch.allclose(same[0], same[1])


def test_alpha_ends(images):
    aug = tiny(alpha=0.0)
    random_distribution(aug)
    own = aug.stylise(images, aug.predictor(images))  # e = e_image
    for seed in (0, 1):
        torch.testing.assert_close(aug(images, generator=gen(seed)), own)
    torch.testing.assert_close(aug(images, embedding=torch.randn(2, 100)), own)
    # alpha = 1: the random style alone; 0.5: the midpoint of both
    emb = torch.randn(2, 100, generator=gen(2))
    aug.alpha = 1.0
    torch.testing.assert_close(aug(images, embedding=emb), aug.stylise(images, emb))
    aug.alpha = 0.5
    torch.testing.assert_close(aug(images, embedding=emb),
                               aug.stylise(images, 0.5 * emb + 0.5 * aug.predictor(images)))
    # use_predictor=False: the mean ImageNet embedding stands for the image's style
    aug.alpha, aug.use_predictor = 0.0, False
    torch.testing.assert_close(aug(images),
                               aug.stylise(images, aug.imagenet_embedding.expand(2, -1)))


def test_random_styles_follow_the_fitted_normal():
    aug = tiny()
    random_distribution(aug)
    a = aug.embedding_factor
    torch.testing.assert_close(a @ a.T, aug.embedding_covariance, atol=1e-4, rtol=1e-4)
    z = torch.randn(4, 100, generator=gen(9))
    torch.testing.assert_close(aug.sample_embedding(4, gen(9)), z @ a.T + aug.embedding_mean)


def test_published_layout():
    """The published checkpoints' key names and shapes (Ghiasi transformer, Inception-v3 to
    Mixed_6e predictor), so their files load by name."""
    t = StyleTransformer().state_dict()
    assert len(t) == 2 * 3 + 12 * 5 + 6 * 3
    assert t['layers.0.conv.weight'].shape == (32, 3, 9, 9)
    assert t['layers.2.conv.weight'].shape == (128, 64, 3, 3)
    assert t['layers.7.fc_gamma2.weight'].shape == (128, 100)
    assert t['layers.8.fc_beta.bias'].shape == (64, )
    assert t['layers.10.conv.weight'].shape == (3, 32, 9, 9)
    p = StylePredictor().state_dict()
    assert p['Conv2d_4a_3x3.conv.weight'].shape == (192, 80, 3, 3)
    assert p['Mixed_5b.branch_pool.conv.weight'].shape == (32, 192, 1, 1)
    assert p['Mixed_6a.branch3x3.conv.weight'].shape == (384, 288, 3, 3)
    assert p['Mixed_6e.branch7x7dbl_5.conv.weight'].shape == (192, 192, 1, 7)
    assert p['fc.weight'].shape == (100, 768)
    assert not any(k.startswith(('input_', 'AuxLogits', 'Mixed_7')) for k in p)


def test_weights_round_trip(images, tmp_path):
    src = tiny(seed=0)
    random_distribution(src)
    for m in src.predictor.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    paths = src.save_weights(str(tmp_path))
    dst = tiny(seed=1, weights=paths)
    mine, theirs = src.state_dict(), dst.state_dict()
    assert set(mine) == set(theirs)
    for k in mine:
        assert torch.equal(mine[k], theirs[k]), k
    assert torch.equal(src(images, generator=gen(4)), dst(images, generator=gen(4)))
    # the published file layout
    assert 'state_dict_ghiasi' in torch.load(paths['transformer'], weights_only=False)
    assert 'state_dict_stylepredictor' in torch.load(paths['predictor'], weights_only=False)
    emb = torch.load(paths['embeddings'], weights_only=False)
    assert emb['pbn_embedding_mean'].shape == (1, 100)
    assert emb['pbn_embedding_covariance'].shape == (100, 100)


def test_missing_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv('MMSFDA_PRETRAINED_DIR', str(tmp_path))
    monkeypatch.chdir(tmp_path)
    paths = tiny().save_weights(str(tmp_path))
    names = dict(transformer='pretrained://styleaug_checkpoint_transformer.pth',
                 predictor=str(tmp_path / 'nope.pth'), embeddings=paths['embeddings'])
    with pytest.raises(FileNotFoundError) as err:
        tiny(weights=names)
    msg = str(err.value)
    assert 'pretrained://styleaug_checkpoint_transformer.pth' in msg
    assert str(tmp_path / 'nope.pth') in msg and paths['embeddings'] not in msg.split('\n')[0]
    assert 'philipjackson/style-augmentation' in msg  # where the original comes from
    for name in ('transformer', 'stylepredictor', 'embeddings'):
        assert f'styleaug_checkpoint_{name}.pth' in PRETRAINED


def test_mismatched_keys_are_named(tmp_path):
    paths = tiny().save_weights(str(tmp_path))
    with pytest.raises(ValueError, match=r'layers\.0\.conv\.weight has shape \(4, 3, 9, 9\)'):
        tiny(transformer=dict(channels=(8, 8, 16), num_res_blocks=1), weights=paths)
    state = torch.load(paths['predictor'], weights_only=False)
    del state['state_dict_stylepredictor']['fc.weight']
    torch.save(state, paths['predictor'])
    with pytest.raises(ValueError, match='key fc.weight is missing'):
        tiny(weights=paths)
    paths = tiny().save_weights(str(tmp_path))
    torch.save(dict(pbn_embedding_mean=torch.zeros(1, 100)), paths['embeddings'])
    with pytest.raises(ValueError, match='pbn_embedding_covariance is missing'):
        tiny(weights=paths)


def test_frozen_and_always_eval(images):
    aug = tiny()
    assert not any(p.requires_grad for p in aug.parameters())
    aug.train()
    assert not aug.training and not aug.predictor.Conv2d_1a_3x3.bn.training
    before = aug.predictor.Conv2d_1a_3x3.bn.running_mean.clone()
    x = images.clone().requires_grad_(True)
    out = aug(x)
    assert not out.requires_grad  # detached: no graph into the networks or the input
    assert torch.equal(before, aug.predictor.Conv2d_1a_3x3.bn.running_mean)
