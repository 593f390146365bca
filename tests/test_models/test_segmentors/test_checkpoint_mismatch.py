"""A checkpoint whose discriminator or ImageNet copy does not fit the model is a clear error
(the file and the key named), not mmengine's warning followed by randomly initialised parts."""
import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from test_models.test_segmentors import test_adversarial_segmentor as adv
from test_models.test_segmentors import test_daformer_segmentor as daf


def roundtrip_error(saved, loaded, path):
    save_checkpoint(saved.state_dict(), str(path))
    with pytest.raises(ValueError) as err:
        load_checkpoint(loaded, str(path), map_location='cpu')
    return str(err.value)


def test_discriminator_of_another_width(tmp_path):
    wide, narrow = adv.build(), adv.build(discriminator=dict(
        type='FCDiscriminator', in_channels=adv.am.NUM_CLASSES, channels=4))
    msg = roundtrip_error(wide, narrow, tmp_path / 'advent.pth')
    assert 'advent.pth' in msg and 'aux.main.layers.0.weight' in msg  # the main level's


def test_imagenet_copy_of_another_backbone(tmp_path):
    model = daf.build()
    other = daf.tiny_mit_student()
    other['backbone'] = dict(other['backbone'], embed_dims=4)
    other['decode_head'] = dict(other['decode_head'], in_channels=[4, 8, 16, 32])
    wider = daf.build(student=other)
    msg = roundtrip_error(wider, model, tmp_path / 'daformer.pth')
    assert 'daformer.pth' in msg and 'imnet' in msg


def test_a_matching_checkpoint_loads(tmp_path):
    a, b = adv.build(), adv.build()
    save_checkpoint(a.state_dict(), str(tmp_path / 'same.pth'))
    load_checkpoint(b, str(tmp_path / 'same.pth'), map_location='cpu')
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
