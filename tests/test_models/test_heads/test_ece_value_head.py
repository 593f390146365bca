import pytest
import torch
from mmseg.registry import MODELS

import mmsfda  # noqa: F401
from mmsfda.compat import check_submodule_checkpoints


def head(**kwargs):
    cfg = dict(type='ECEValueHead', in_channels=8, num_classes=4, channels=6)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_paper_code_layout_reads_the_last_feature_map_only():
    h = head(use_decoder=False).eval()
    feats = (torch.randn(3, 4, 10, 10), torch.randn(3, 8, 5, 7))
    est = h(feats)
    assert est.shape == (3, )
    # the paper's layout: conv to `channels`, 4x4 map, one linear output
    assert h.conv.weight.shape == (6, 8, 1, 1) and h.conv.bias is None
    assert h.fc.weight.shape == (1, 6 * 16)
    assert not hasattr(h, 'decoder_conv')
    # the decoder's output, if given, changes nothing
    logits = torch.randn(3, 4, 5, 7)
    assert torch.equal(h(feats, logits), est)
    feats[0].normal_()  # not the `in_index` map
    assert torch.equal(h(feats), est)


def test_default_reads_the_decoder_output_too():
    torch.manual_seed(0)
    h = head(decoder_channels=5).eval()
    feats = torch.randn(3, 8, 5, 7)
    logits = torch.randn(3, 4, 5, 7)
    est = h(feats, logits)
    assert est.shape == (3, )
    assert h.decoder_conv.weight.shape == (5, 4 + 2, 1, 1)  # probs, confidence, entropy
    assert h.fc.weight.shape == (1, 6 * 16 + 5 * 16)
    # same features, more confident decoder: another estimate for every image
    sharper = h(feats, 4 * logits)
    assert (sharper - est).abs().min() > 1e-4
    # logits at another resolution (e.g. resized to the image) are pooled the same way
    assert h(feats, torch.randn(3, 4, 20, 28)).shape == (3, )
    with pytest.raises(ValueError, match='needs the decoder'):
        h(feats)
    with pytest.raises(ValueError, match=r'seg_logits \[3, 4, h, w\]'):
        h(feats, torch.randn(3, 5, 5, 7))


@pytest.mark.parametrize('use_decoder', [False, True])
def test_regression_can_fit_a_target(use_decoder):
    torch.manual_seed(0)
    h = head(use_decoder=use_decoder)
    feats = torch.randn(4, 8, 6, 6)
    logits = torch.randn(4, 4, 6, 6)
    target = torch.tensor([0.05, 0.2, 0.4, 0.1])
    opt = torch.optim.Adam(h.parameters(), lr=0.05)
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(h(feats, logits), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


def test_decoder_branch_alone_can_rank_by_confidence():
    # Backbone features identical for every image: only the decoder output tells them apart.
    torch.manual_seed(0)
    h = head()
    feats = torch.randn(1, 8, 6, 6).expand(6, -1, -1, -1).contiguous()
    base = torch.randn(1, 4, 6, 6)
    scales = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0, 6.0])
    logits = base * scales.view(-1, 1, 1, 1)
    target = torch.linspace(0.05, 0.5, 6)  # more confident, less calibrated
    opt = torch.optim.Adam(h.parameters(), lr=0.02)
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(h(feats, logits), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    assert torch.all(h(feats, logits).diff() > 0)


def test_wrong_feature_channels_is_a_clear_error():
    with pytest.raises(ValueError, match='in_channels must match'):
        head()(torch.randn(1, 16, 4, 4))


def test_checkpoint_for_other_backbone_or_classes_is_refused():
    class Net(torch.nn.Module):
        def __init__(self, **kw):
            super().__init__()
            self.value_head = head(**kw)

    trained = Net().state_dict()
    check_submodule_checkpoints(Net(), trained)  # the same model: fine
    with pytest.raises(ValueError, match='5 classes'):
        check_submodule_checkpoints(Net(num_classes=5), trained)
    with pytest.raises(ValueError, match='16-channel features'):
        check_submodule_checkpoints(Net(in_channels=16), trained)
    # a paper-code (backbone-only) value net in a model whose value net reads the decoder, and
    # the other way round
    with pytest.raises(ValueError, match='reads backbone features only.*use_decoder=False'):
        check_submodule_checkpoints(Net(), Net(use_decoder=False).state_dict())
    with pytest.raises(ValueError, match='reads the decoder output too.*use_decoder=True'):
        check_submodule_checkpoints(Net(use_decoder=False), trained)


def test_required_value_net_missing_from_checkpoint_or_never_loaded():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.value_head = head(require_in_checkpoint=True)

    net = Net()
    with pytest.raises(ValueError, match='stage 2'):
        check_submodule_checkpoints(net, {'backbone.conv.weight': torch.zeros(1)})
    with pytest.raises(RuntimeError, match='never loaded'):
        net.value_head(torch.randn(1, 8, 4, 4), torch.randn(1, 4, 4, 4))
    net.load_state_dict(Net().state_dict())
    assert net.value_head(torch.randn(1, 8, 4, 4), torch.randn(1, 4, 4, 4)).shape == (1, )
