"""DAFormer's thing-class ImageNet feature distance, by hand."""
import pytest
import torch

from mmsfda.models.losses.feature_distance_loss import (FeatureDistanceLoss, downscale_label_ratio,
                                                        feature_distance)


def test_downscale_label_ratio_keeps_dominant_blocks_only():
    labels = torch.tensor([[[1, 1, 2, 2],
                            [1, 1, 2, 3],
                            [4, 4, 255, 255],
                            [4, 0, 255, 255]]])
    out = downscale_label_ratio(labels, (2, 2), min_ratio=0.75, num_classes=5)
    # block (0,0): 1 x4; (0,1): 2 x3 of 4 = 0.75 -> kept; (1,0): 4 x3 -> kept; (1,1): all ignore
    assert out.tolist() == [[[1, 2], [4, 255]]]
    strict = downscale_label_ratio(labels, (2, 2), min_ratio=0.8, num_classes=5)
    assert strict.tolist() == [[[1, 255], [255, 255]]]
    with pytest.raises(ValueError, match='multiple'):
        downscale_label_ratio(labels, (3, 2), 0.75, 5)


def test_distance_is_the_masked_mean_l2_norm():
    feat = torch.zeros(1, 2, 1, 2)
    ref = torch.tensor([[[[3., 0.]], [[4., 1.]]]])  # pixel norms 5 and 1
    assert feature_distance(feat, ref).item() == pytest.approx(3.0)
    assert feature_distance(feat, ref, torch.tensor([[[True, False]]])).item() == 5.0


def test_loss_counts_thing_pixels_only_and_is_zero_without_them():
    feat = torch.zeros(1, 2, 1, 2, requires_grad=True)
    ref = torch.tensor([[[[3., 0.]], [[4., 1.]]]])
    labels = torch.tensor([[[13] * 4 + [0] * 4] * 4])  # car | road, on a 4x8 label map
    loss = FeatureDistanceLoss(loss_weight=0.5)(feat, ref, labels, num_classes=19)
    assert loss.item() == pytest.approx(0.5 * 5.0)  # only the car block counts
    no_things = torch.zeros_like(labels)
    zero = FeatureDistanceLoss()(feat, ref, no_things, num_classes=19)
    assert zero.item() == 0.0
    zero.backward()  # defined and finite, no NaN from an empty mean
    assert torch.equal(feat.grad, torch.zeros_like(feat))
    everything = FeatureDistanceLoss(loss_weight=1.0, thing_classes=None)(feat, ref, labels, 19)
    assert everything.item() == pytest.approx(3.0)
