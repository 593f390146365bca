"""LearnedTranslatedView: the translation in the segmentor's normalisation, its checkpoint keys,
errors."""
import pytest
import torch
from mmseg.registry import MODELS

GEN = dict(base_channels=4, num_res_blocks=1)
MEAN = torch.tensor([123.675, 116.28, 103.53])
STD = torch.tensor([58.395, 57.12, 57.375])


@pytest.fixture
def translator_ckpt(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MUNITLite', generator=GEN, image_size=(16, 32),
                              discriminator=dict(base_channels=4, num_layers=2, num_scales=1)))
    path = str(tmp_path / 'translator.pth')
    torch.save(dict(meta={}, state_dict=model.state_dict()), path)
    return model, path


def test_view_is_dec_t_enc_s_in_the_segmentors_normalisation(translator_ckpt):
    model, path = translator_ckpt
    view = MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(16, 32),
                             checkpoint=path))
    assert not view.needs_target and bool(view.loaded)
    assert not any(p.requires_grad for p in view.parameters())
    raw = torch.rand(2, 3, 16, 32) * 255
    img = (raw - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    out = view(img, None, MEAN, STD)
    expected = model.generator.translate(raw / 127.5 - 1, 'source', 'target')
    torch.testing.assert_close(out * STD.view(1, 3, 1, 1) + MEAN.view(1, 3, 1, 1),
                               (expected + 1) * 127.5, atol=1e-3, rtol=1e-4)
    # Sizes that are not multiples of 4 are padded and cropped back.
    assert view(img[..., :15, :30], None, MEAN, STD).shape == (2, 3, 15, 30)
    # In the mixture: no target images needed.
    mixture = MODELS.build(dict(type='CrossDomainMixture', translator=dict(
        type='LearnedTranslatedView', generator=GEN, image_size=(16, 32), checkpoint=path)))
    assert not mixture.needs_target
    views = mixture(img, torch.randint(0, 3, (2, 16, 32)), None, MEAN, STD,
                    generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(views.translated, out)
    keep = views.mask.unsqueeze(1).expand_as(img)
    torch.testing.assert_close(views.mixed[~keep], out[~keep])


def test_map_checkpoint_keys_takes_the_direction_and_drops_the_rest(translator_ckpt):
    model, _ = translator_ckpt
    view = MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(16, 32)))
    state = dict(model.state_dict())
    view.map_checkpoint_keys(state, '', 'mixture.translator.')
    assert all(k.startswith('mixture.translator.') for k in state)
    assert set(state) == {'mixture.translator.' + k for k in view.state_dict()}
    assert torch.equal(state['mixture.translator.encoder.model.0.1.weight'],
                       model.generator.encoders['source'].model[0][1].weight)
    assert torch.equal(state['mixture.translator.decoder.model.0.body.0.1.weight'],
                       model.generator.decoders['target'].model[0].body[0][1].weight)
    # A checkpoint that already has the view's keys (a run's own) is left alone.
    again = dict(state, **{'generator.encoders.source.x': torch.zeros(1)})
    assert view.map_checkpoint_keys(dict(again), '', 'mixture.translator.') == again
    # target -> source takes the other pair.
    back = MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(16, 32),
                             source='target', target='source'))
    state = back.map_checkpoint_keys(dict(model.state_dict()), '', 'm.')
    assert torch.equal(state['m.encoder.model.0.1.weight'],
                       model.generator.encoders['target'].model[0][1].weight)


def test_errors(translator_ckpt, tmp_path):
    _, path = translator_ckpt
    view = MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(16, 32)))
    with pytest.raises(RuntimeError, match='has no weights'):
        view(torch.zeros(1, 3, 16, 32), None, MEAN, STD)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, checkpoint='nope.pth'))
    torch.save(dict(state_dict={'backbone.x': torch.zeros(1)}), tmp_path / 'seg.pth')
    with pytest.raises(ValueError, match=r'seg.pth is not a MUNITLite checkpoint of this '
                       r'direction: key generator.encoders.source.model.0.1.weight is missing'):
        MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(16, 32),
                          checkpoint=str(tmp_path / 'seg.pth')))
    with pytest.raises(ValueError, match=r'translator.pth: key image_size says it was trained on '
                       r'\(16, 32\) crops, model.mixture.translator.image_size is \(32, 32\)'):
        MODELS.build(dict(type='LearnedTranslatedView', generator=GEN, image_size=(32, 32),
                          checkpoint=path))
    with pytest.raises(ValueError, match=r'key generator.encoders.source.model.0.1.weight has '
                       r'shape \(4, 3, 7, 7\), model.mixture.translator expects \(8, 3, 7, 7\)'):
        MODELS.build(dict(type='LearnedTranslatedView', generator=dict(GEN, base_channels=8),
                          image_size=(16, 32), checkpoint=path))
    with pytest.raises(ValueError, match='source and target'):
        MODELS.build(dict(type='LearnedTranslatedView', source='target', target='target'))
