"""ProDAHead: structure, shapes, and its feature reaching StudentOutputs.decoder_feats."""
import pytest
import torch
from mmseg.registry import MODELS


def head(**kw):
    cfg = dict(type='ProDAHead', in_channels=16, in_index=0, channels=32, num_groups=8,
               dilations=(1, 2), num_classes=5)
    return MODELS.build(dict(cfg, **kw))


def test_structure_and_shapes():
    h = head()
    assert len(h.branches) == 3  # the 1x1 branch + one per dilation
    assert h.branches[0][0].kernel_size == (1, 1) and h.branches[2][0].dilation == (2, 2)
    assert isinstance(h.branches[1][1], torch.nn.GroupNorm)
    assert h.conv_seg.bias is None  # the prototype classifier has no bias
    assert h.dropout.p == 0.1
    x = [torch.randn(2, 16, 6, 8)]
    assert h._forward_feature(x).shape == (2, 32, 6, 8)
    assert h(x).shape == (2, 5, 6, 8)
    h.eval()
    assert torch.allclose(h(x), h.conv_seg(h._forward_feature(x)))


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match='divisible'):
        head(channels=30)


def test_features_in_student_outputs():
    from conftest import REPO as repo
    from mmengine.config import Config
    cfg = Config.fromfile(f'{repo}/configs/_base_/models/deeplabv2-proda_r18-tiny.py').model
    seg = MODELS.build(dict(type='DiGASegmentor', student=cfg, teacher=True))
    out = seg.student_forward(torch.randn(2, 3, 32, 64))
    assert out.decoder_feats.shape == (2, 32, 4, 8) and out.logits.shape == (2, 10, 32, 64)
