"""T2S-DA's state modules: the projection head, the class feature memory, the re-weighting."""
import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.heads.class_feature_memory import ClassFeatureMemory
from mmsfda.models.heads.class_performance_tracker import (ClassPerformanceTracker, class_iou)
from mmsfda.models.heads.pixel_projection_head import PixelProjectionHead


def test_projection_head_unit_norm_and_width_mismatch_error():
    head = PixelProjectionHead(8, hidden_channels=6, out_channels=4)
    out = head(torch.randn(2, 8, 3, 5))
    assert out.shape == (2, 4, 3, 5)
    assert torch.allclose(out.norm(dim=1), torch.ones(2, 3, 5), atol=1e-5)
    wider = PixelProjectionHead(8, hidden_channels=6, out_channels=7)
    with pytest.raises(ValueError, match=r"'mlp.2.weight' has shape \(7, 6, 1, 1\).*\(4, 6, 1, 1\)"):
        head.load_state_dict(wider.state_dict(), strict=False)  # mmengine loads non-strictly
    with pytest.raises(ValueError, match=r'expects \[B, 8, h, w\]'):
        head(torch.randn(2, 5, 3, 3))


def test_prototypes_batch_mean_then_ema_and_absent_classes_kept():
    mem = ClassFeatureMemory(3, 2, prototype_momentum=0.5)
    keys = torch.tensor([[1., 0.], [0., 1.], [0., 1.]])
    protos, valid = mem.update_prototypes(keys, torch.tensor([0, 0, 1]))
    assert valid.tolist() == [True, True, False]
    assert torch.allclose(protos[0], F.normalize(torch.tensor([0.5, 0.5]), dim=0))
    assert torch.equal(protos[2], torch.zeros(2))
    protos2, _ = mem.update_prototypes(torch.tensor([[1., 0.]]), torch.tensor([1]))
    expected = F.normalize(0.5 * torch.tensor([0., 1.]) + 0.5 * torch.tensor([1., 0.]), dim=0)
    assert torch.allclose(protos2[1], expected)
    assert torch.equal(protos2[0], protos[0])  # absent: unchanged
    protos[0] += 1  # a copy: the memory is not touched
    assert torch.allclose(mem.prototypes[0].norm(), torch.tensor(1.))


def test_queue_is_a_per_class_ring_buffer():
    torch.manual_seed(0)
    mem = ClassFeatureMemory(2, 1, queue_size=3, queue_push=2)
    mem.push('source', torch.tensor([[1.], [2.], [3.], [10.]]), torch.tensor([0, 0, 0, 1]))
    assert mem.queue_len[0].tolist() == [2, 1] and mem.queue_ptr[0].tolist() == [2, 1]
    mem.push('source', torch.tensor([[4.], [5.]]), torch.tensor([0, 0]))
    assert mem.queue_len[0].tolist() == [3, 1] and mem.queue_ptr[0].tolist() == [1, 1]
    keys, labels = mem.pool('source')
    assert labels.tolist() == [0, 0, 0, 1]
    assert keys[3].item() == 10. and set(keys[:3, 0].tolist()) & {4., 5.} != set()
    assert mem.pool('target')[0].shape == (0, 1)
    assert ClassFeatureMemory(2, 1).pool('source')[0].shape == (0, 1)  # no queue: empty


def test_tracker_weights_favour_poor_classes_and_keep_mean_one():
    t = ClassPerformanceTracker(3, momentum=0.5, gamma=1.0)
    assert torch.equal(t.weights(), torch.ones(3))
    t.update(torch.tensor([0.8, 0.2, 0.9]), torch.tensor([True, True, False]))
    assert t.score.tolist() == pytest.approx([0.8, 0.2, 0.0])  # first value sets it
    t.update(torch.tensor([0.4, 0.2, 0.0]), torch.tensor([True, False, False]))
    assert t.score.tolist() == pytest.approx([0.6, 0.2, 0.0])  # EMA; absent classes kept
    w = t.weights()
    assert float(w.mean()) == pytest.approx(1) and w[0] < w[1] < w[2]
    t.update(torch.ones(3), torch.ones(3, dtype=torch.bool))
    t.update(torch.ones(3), torch.ones(3, dtype=torch.bool))
    t.score.fill_(1.)
    assert torch.equal(t.weights(), torch.ones(3))  # all perfect: uniform, no 0/0


def test_class_iou():
    iou, present = class_iou(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1]), 4)
    assert iou.tolist() == pytest.approx([0.5, 1 / 3, 0, 0]) and present.tolist() == [
        True, True, False, False]
