import pytest
import torch

from mmsfda.models.mixers.class_mix import ClassMix, MixedBatch
from mmseg.registry import MODELS


def make_batch(source_labels, seed=0):
    source_labels = torch.as_tensor(source_labels)
    b, h, w = source_labels.shape
    g = torch.Generator().manual_seed(seed)
    return dict(
        source_img=torch.randn(b, 3, h, w, generator=g),
        source_labels=source_labels,
        target_img=torch.randn(b, 3, h, w, generator=g),
        target_labels=torch.randint(0, 6, (b, h, w), generator=g),
        target_weights=torch.rand(b, h, w, generator=g))


# Sample 0 has classes {0, 1, 2, 3} and ignored pixels; sample 1 has {4, 5, 6}.
SOURCE = [[[0, 0, 1, 1], [2, 2, 3, 255], [255, 3, 3, 0]],
          [[4, 4, 4, 5], [5, 5, 6, 6], [6, 4, 4, 4]]]


def chosen_classes(mix):
    """The classes of each sample whose pixels ended up in the mask."""
    return [set(lbl[m[0]].tolist()) for lbl, m in zip(torch.tensor(SOURCE), mix.mask)]


def test_registered():
    assert isinstance(MODELS.build(dict(type='ClassMix', batch_unique=True)), ClassMix)


def test_mask_covers_exactly_half_of_the_classes():
    batch = make_batch(SOURCE)
    mixer = ClassMix()
    for seed in range(20):
        torch.manual_seed(seed)
        mix = mixer(**batch)
        assert isinstance(mix, MixedBatch)
        assert mix.mask.shape == (2, 1, 3, 4) and mix.mask.dtype == torch.bool
        classes = chosen_classes(mix)
        assert len(classes[0]) == 2 and classes[0] <= {0, 1, 2, 3}  # ceil(4 / 2)
        assert len(classes[1]) == 2 and classes[1] <= {4, 5, 6}  # ceil(3 / 2)
        for i in range(2):
            # Every pixel of a chosen class is in the mask, and nothing else (never 255).
            expected = torch.isin(torch.tensor(SOURCE[i]), torch.tensor(sorted(classes[i])))
            assert torch.equal(mix.mask[i, 0], expected)


def test_mixed_values():
    batch = make_batch(SOURCE)
    torch.manual_seed(0)
    mix = ClassMix()(**batch)
    m = mix.mask
    assert torch.equal(mix.img, torch.where(m, batch['source_img'], batch['target_img']))
    assert torch.equal(mix.labels, torch.where(m[:, 0], batch['source_labels'],
                                               batch['target_labels']))
    assert torch.equal(mix.weights, torch.where(m[:, 0], torch.ones(2, 3, 4),
                                                batch['target_weights']))
    assert mix.labels.dtype == torch.int64 and mix.weights.dtype == torch.float32
    assert 0 < m.sum() < m.numel()


def test_deterministic():
    batch = make_batch(SOURCE)
    torch.manual_seed(3)
    a = ClassMix()(**batch)
    torch.manual_seed(3)
    b = ClassMix()(**batch)
    assert torch.equal(a.mask, b.mask)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(ClassMix()(**batch, generator=g1).mask, ClassMix()(**batch, generator=g2).mask)
    masks = {tuple(ClassMix()(**batch).mask.flatten().tolist()) for _ in range(20)}
    assert len(masks) > 1  # it is random


def test_batch_unique_draws_from_the_whole_batch():
    mixer = ClassMix(batch_unique=True)
    labels = torch.tensor(SOURCE)
    seen_foreign = False
    for seed in range(30):
        chosen = mixer.choose_classes(labels, torch.Generator().manual_seed(seed))
        assert chosen.shape == (2, 256)  # max label 255 + 1
        for i in range(2):
            classes = set(chosen[i].nonzero().flatten().tolist())
            assert len(classes) == 4 and classes <= {0, 1, 2, 3, 4, 5, 6}  # ceil(7 / 2)
            seen_foreign |= bool(classes - set(labels[i].flatten().tolist()))
    assert seen_foreign  # a sample can draw classes it does not contain (DAFormer's quirk)
    # The per-sample variant never does.
    for seed in range(30):
        chosen = ClassMix().choose_classes(labels, torch.Generator().manual_seed(seed))
        assert set(chosen[1].nonzero().flatten().tolist()) <= {4, 5, 6}


def test_include_ignore_gets_zero_weight():
    labels = torch.tensor([[[255, 255], [0, 255]]])
    batch = make_batch(labels)
    mixer = ClassMix(include_ignore=True)
    picked_ignore = False
    for seed in range(20):
        mix = mixer(**batch, generator=torch.Generator().manual_seed(seed))
        if mix.mask[0, 0, 0, 0]:
            picked_ignore = True
            assert mix.labels[0, 0, 0] == 255 and mix.weights[0, 0, 0] == 0
    assert picked_ignore


def test_no_source_class_keeps_target():
    batch = make_batch(torch.full((1, 3, 3), 255))
    mix = ClassMix()(**batch)
    assert not mix.mask.any()
    assert torch.equal(mix.img, batch['target_img'])
    assert torch.equal(mix.labels, batch['target_labels'])


def test_accepts_b1hw_labels_and_default_weights():
    batch = make_batch(SOURCE)
    batch['source_labels'] = batch['source_labels'].unsqueeze(1)
    batch['target_labels'] = batch['target_labels'].unsqueeze(1)
    batch['target_labels'][:, :, 0, 0] = 255
    del batch['target_weights']
    mix = ClassMix()(**batch)
    assert mix.labels.shape == (2, 3, 4)
    expected = torch.where(mix.mask[:, 0], 1.0, 0.0)
    expected = torch.where(~mix.mask[:, 0] & (mix.labels != 255), 1.0, expected)
    assert torch.equal(mix.weights, expected)
    assert ((mix.labels == 255) <= (mix.weights == 0)).all()


def test_shape_mismatch_raises():
    batch = make_batch(SOURCE)
    batch['target_img'] = batch['target_img'][:, :, :2]
    with pytest.raises(ValueError):
        ClassMix()(**batch)
