"""VGGPerceptualLoss: torchvision-layout VGG19 weights, pix2pixHD layer weights, bad files."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmsfda.models.losses.vgg_perceptual_loss import RELU_X_1, vgg19_features


@pytest.fixture(scope='module')
def vgg_file(tmp_path_factory):
    """A seeded random VGG19 in torchvision's layout (classifier omitted)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('vgg') / 'vgg19.pth'
    torch.save({f'features.{k}': v for k, v in vgg19_features().state_dict().items()}, path)
    return str(path)


def test_layers_are_torchvision_indices():
    feats = vgg19_features()
    assert len(feats) == 30 and all(isinstance(feats[i], torch.nn.ReLU) for i in RELU_X_1)
    assert [feats[i - 1].out_channels for i in RELU_X_1] == [64, 128, 256, 512, 512]


def test_loss_matches_direct_computation(vgg_file):
    loss = MODELS.build(dict(type='VGGPerceptualLoss', checkpoint=vgg_file))
    assert not any(p.requires_grad for p in loss.parameters())
    torch.manual_seed(1)
    a = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    b = torch.rand(1, 3, 32, 32) * 2 - 1
    out = loss(a, b)
    feats = vgg19_features()
    feats.load_state_dict({k[len('features.'):]: v for k, v in torch.load(vgg_file).items()})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def run(x):
        x, outs = ((x + 1) / 2 - mean) / std, []
        for i, layer in enumerate(feats):
            x = layer(x)
            if i in RELU_X_1:
                outs.append(x)
        return outs
    direct = sum(w * F.l1_loss(p, q) for w, p, q in
                 zip((1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0), run(a), run(b)))
    torch.testing.assert_close(out, 0.1 * direct)
    assert loss(b, b).item() == 0
    out.backward()
    assert a.grad.abs().sum() > 0


def test_bad_weights_files(vgg_file, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MODELS.build(dict(type='VGGPerceptualLoss', checkpoint=str(tmp_path / 'missing.pth')))
    state = torch.load(vgg_file)
    state.pop('features.28.weight')
    torch.save(dict(state_dict=state), tmp_path / 'cut.pth')
    with pytest.raises(ValueError, match=r'cut.pth is not a torchvision VGG19 state dict: key '
                       r'features.28.weight is missing'):
        MODELS.build(dict(type='VGGPerceptualLoss', checkpoint=str(tmp_path / 'cut.pth')))
    state = torch.load(vgg_file)
    state['features.0.weight'] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / 'gray.pth')
    with pytest.raises(ValueError, match=r'gray.pth: key features.0.weight has shape '
                       r'\(64, 1, 3, 3\), VGG19 has \(64, 3, 3, 3\)'):
        MODELS.build(dict(type='VGGPerceptualLoss', checkpoint=str(tmp_path / 'gray.pth')))


def test_munit_lite_adds_the_term_only_with_weights(vgg_file):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    arch = dict(generator=dict(base_channels=4, num_res_blocks=1),
                discriminator=dict(base_channels=4, num_layers=2, num_scales=1),
                image_size=(16, 16))
    x = dict(source=torch.rand(1, 3, 16, 16) * 2 - 1, target=torch.rand(1, 3, 16, 16) * 2 - 1)
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.zeros(1, 16, 16, dtype=torch.long)))]
    plain = MODELS.build(dict(type='MUNITLite', **arch))
    assert 'loss_perceptual' not in plain.loss(x, dict(source=samples))
    with_vgg = MODELS.build(dict(type='MUNITLite', **arch, perceptual_loss=dict(
        type='VGGPerceptualLoss', checkpoint=vgg_file, loss_weight=0.1)))
    losses = with_vgg.loss(x, dict(source=samples))
    assert losses['loss_perceptual'].item() > 0
