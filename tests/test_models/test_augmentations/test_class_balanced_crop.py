"""ClassBalancedCrop (ATP's public Teach form): mmseg's cat_max_ratio rule on pseudo-labels."""
import pytest
import torch

from mmsfda.models.augmentations.class_balanced_crop import ClassBalancedCrop


def test_balanced_rule_by_hand():
    crop = ClassBalancedCrop((2, 2), cat_max_ratio=0.75)
    assert crop.balanced(torch.tensor([[0, 0], [1, 1]]))  # 0.5 < 0.75
    assert not crop.balanced(torch.tensor([[0, 0], [0, 1]]))  # 0.75 is not below 0.75
    assert not crop.balanced(torch.tensor([[2, 2], [2, 2]]))  # one class
    assert not crop.balanced(torch.full((2, 2), 255))  # nothing labelled
    assert crop.balanced(torch.tensor([[0, 255], [1, 255]]))  # ignore is not counted


def test_a_balanced_window_is_found_when_one_exists():
    """One image: class 0 everywhere except an 8x8 block of class 1 in the corner; of the 81
    8x8 windows, the 24 that overlap the block by 17 to 47 pixels pass (a window that misses
    all 50 tries: p = (57 / 81) ** 50 < 1e-7). The chosen windows are balanced."""
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[0, :8, :8] = 1
    crop = ClassBalancedCrop((8, 8), cat_max_ratio=0.75, max_tries=50)
    for seed in range(10):
        g = torch.Generator().manual_seed(seed)
        (y1, y2, x1, x2), = crop(labels, g)
        assert (y2 - y1, x2 - x1) == (8, 8)
        assert crop.balanced(labels[0, y1:y2, x1:x2])
    # without the rule (ratio 1) the first window drawn is kept, whatever its labels
    free = ClassBalancedCrop((8, 8), cat_max_ratio=1.0)
    boxes = [free(labels, torch.Generator().manual_seed(s))[0] for s in range(20)]
    assert any(not crop.balanced(labels[0, b[0]:b[1], b[2]:b[3]]) for b in boxes)


def test_crop_stacks_windows_and_bad_arguments():
    x = torch.arange(2 * 3 * 4 * 5).view(2, 3, 4, 5)
    out = ClassBalancedCrop.crop(x, [(0, 2, 1, 4), (2, 4, 0, 3)])
    assert out.shape == (2, 3, 2, 3)
    assert torch.equal(out[1], x[1, :, 2:4, 0:3])
    with pytest.raises(ValueError, match='crop_size'):
        ClassBalancedCrop((0, 4))
    with pytest.raises(ValueError, match='cat_max_ratio'):
        ClassBalancedCrop((4, 4), cat_max_ratio=0.0)
