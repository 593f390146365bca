import pytest
import torch
from mmseg.registry import MODELS

import mmsfda  # noqa: F401
from mmsfda.compat import check_submodule_checkpoints


def head(**kwargs):
    cfg = dict(type='ECEValueHead', in_channels=8, num_classes=4, channels=6)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_one_estimate_in_0_1_per_image_from_the_last_feature_map():
    h = head().eval()
    feats = (torch.randn(3, 4, 10, 10), torch.randn(3, 8, 5, 7))
    est = h(feats)
    assert est.shape == (3, )
    assert ((est > 0) & (est < 1)).all()
    # the paper's layout: conv to `channels`, 4x4 map, one linear output
    assert h.conv.weight.shape == (6, 8, 1, 1) and h.conv.bias is None
    assert h.fc.weight.shape == (1, 6 * 16)


def test_regression_can_fit_a_target():
    torch.manual_seed(0)
    h = head()
    feats = torch.randn(4, 8, 6, 6)
    target = torch.tensor([0.05, 0.2, 0.4, 0.1])
    opt = torch.optim.Adam(h.parameters(), lr=0.05)
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(h(feats), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


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


def test_required_value_net_missing_from_checkpoint_or_never_loaded():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.value_head = head(require_in_checkpoint=True)

    net = Net()
    with pytest.raises(ValueError, match='stage 2'):
        check_submodule_checkpoints(net, {'backbone.conv.weight': torch.zeros(1)})
    with pytest.raises(RuntimeError, match='never loaded'):
        net.value_head(torch.randn(1, 8, 4, 4))
    net.load_state_dict(Net().state_dict())
    assert net.value_head(torch.randn(1, 8, 4, 4)).shape == (1, )
