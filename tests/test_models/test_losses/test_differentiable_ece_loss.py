"""DifferentiableECELoss: values against loop references, averaging, ignore, gradients, head use."""
import numpy as np
import pytest
import torch

from mmsfda.models.losses.differentiable_ece_loss import (DifferentiableECELoss,
                                                          differentiable_ece_loss)


def public_code_reference(logits, target, n_bins=10, t=1e-5, class_level=True, average='all',
                          ignore_index=255):
    """Loop over images, classes and bins as Cal-SFDA's ``ECELoss``/``class_level_ece_train``."""
    lowers = torch.linspace(0, 1, n_bins + 1)
    values = []
    for x, y in zip(logits, target):
        p = x.float().softmax(dim=0).flatten(1)  # (C, N)
        y = y.flatten()
        pred = p.argmax(dim=0)
        conf = t * torch.logsumexp(p / t, dim=0)
        if class_level:
            groups = [y == k for k in range(x.shape[0])]
        else:
            groups = [y != ignore_index]
        eces = []
        for g in groups:
            ece = torch.zeros((), dtype=conf.dtype)
            n = g.sum()
            for lo, hi in zip(lowers[:-1], lowers[1:]):
                in_bin = g & (conf > lo) & (conf <= hi)
                if in_bin.any():
                    acc = (pred[in_bin] == y[in_bin]).float().mean()
                    ece = ece + in_bin.sum() / n * (conf[in_bin].mean() - acc).abs()
            eces.append((ece, bool(n > 0)))
        if not class_level or average == 'all':
            values.append(torch.stack([e for e, _ in eces]).mean())
        else:
            present = [e for e, p in eces if p]
            values.append(torch.stack(present).mean() if present else torch.zeros(()))
    return torch.stack(values)


def random_batch(seed=0, b=2, c=4, h=9, w=11, ignore_frac=0.1, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, h, w, generator=g) * scale
    target = torch.randint(0, c, (b, h, w), generator=g)
    target[torch.rand(b, h, w, generator=g) < ignore_frac] = 255
    return logits, target


@pytest.mark.parametrize('class_level', [True, False])
@pytest.mark.parametrize('average', ['all', 'present'])
def test_matches_public_code_loop(class_level, average):
    logits, target = random_batch()
    target[1][target[1] == 2] = 0  # class 2 absent from image 1: 'all' and 'present' differ
    ours = differentiable_ece_loss(logits, target, class_level=class_level, average=average)
    ref = public_code_reference(logits, target, class_level=class_level, average=average)
    assert ours.shape == (2, )
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert (ours > 0).all()


def hard_max_reference(probs, target, n_bins, class_level=True):
    """numpy float64, hard max confidence, one image: probs (C, N), target (N,)."""
    conf, pred = probs.max(0), probs.argmax(0)
    groups = [target == k for k in range(probs.shape[0])] if class_level else [target != 255]
    eces = []
    for g in groups:
        ece = 0.0
        for m in range(n_bins):
            b = g & (conf > m / n_bins) & (conf <= (m + 1) / n_bins)
            if b.any():
                ece += b.sum() / g.sum() * abs(conf[b].mean() - (pred[b] == target[b]).mean())
        eces.append(ece)
    return np.mean(eces)


def test_close_to_hard_max_ece():
    """conf_LSE - max p is in [0, t log C]: away from bin edges, ECE moves by at most that."""
    rng = np.random.default_rng(0)
    c, n, n_bins, t = 5, 400, 10, 1e-5
    # top probability drawn inside bins (never within 0.01 of an edge), the rest spread evenly
    top = (rng.integers(3, n_bins, size=n) + rng.uniform(0.1, 0.9, size=n)) / n_bins
    probs = np.repeat(((1 - top) / (c - 1))[None], c, axis=0)
    winner = rng.integers(0, c, size=n)
    probs[winner, np.arange(n)] = top
    target = np.where(rng.uniform(size=n) < top, winner, rng.integers(0, c, size=n))
    logits = torch.from_numpy(np.log(probs)).float().view(1, c, 20, 20)
    ours = differentiable_ece_loss(logits, torch.from_numpy(target).view(1, 20, 20), lse_t=t)
    ref = hard_max_reference(probs, target, n_bins)
    assert abs(ours.item() - ref) <= t * np.log(c) + 1e-6
    pooled = differentiable_ece_loss(
        logits, torch.from_numpy(target).view(1, 20, 20), lse_t=t, class_level=False)
    assert abs(pooled.item() - hard_max_reference(probs, target, n_bins, False)) <= 1e-4


def test_all_vs_present_average():
    logits, target = random_batch(b=1, ignore_frac=0.0)
    target[target >= 2] = 0  # only classes 0 and 1 present out of 4
    all_ = differentiable_ece_loss(logits, target, average='all')
    present = differentiable_ece_loss(logits, target, average='present')
    torch.testing.assert_close(all_, present * 2 / 4)
    # nothing valid in the image: 0 with both averages, no NaN
    empty = torch.full_like(target, 255)
    for average in ('all', 'present'):
        assert differentiable_ece_loss(logits, empty, average=average).item() == 0


def test_ignore_index():
    logits, target = random_batch(ignore_frac=0.3)
    ignored = target == 255
    logits.requires_grad_(True)
    loss = differentiable_ece_loss(logits, target).mean()
    loss.backward()
    # predictions at ignored pixels neither change the value nor receive gradient
    assert (logits.grad.permute(0, 2, 3, 1)[ignored] == 0).all()
    other = logits.detach().clone()
    other.permute(0, 2, 3, 1)[ignored] = torch.randn(int(ignored.sum()), 4) * 10
    torch.testing.assert_close(differentiable_ece_loss(other, target).mean(), loss.detach())
    # a custom ignore index inside the class range: ignoring class 0 == relabelling it 255
    ignore_0 = differentiable_ece_loss(logits.detach(), target, ignore_index=0)
    torch.testing.assert_close(
        ignore_0, differentiable_ece_loss(logits.detach(), target.masked_fill(target == 0, 255)))
    assert not torch.allclose(ignore_0.mean(), loss.detach())


def _away_from_edges(logits, t, n_bins, margin):
    p = logits.softmax(dim=1)
    conf = t * torch.logsumexp(p / t, dim=1)
    dist = (conf[..., None] * n_bins - torch.arange(1, n_bins)).abs() / n_bins
    top2 = p.topk(2, dim=1).values
    return dist.min() > margin and (top2[:, 0] - top2[:, 1]).min() > margin


def test_gradcheck_float64():
    logits, target = random_batch(seed=3, b=2, c=3, h=3, w=4, ignore_frac=0.2, scale=1.5)
    logits = logits.double().requires_grad_(True)
    t = 0.05  # LSE curvature ~1/t: t = 1e-5 is too stiff for finite differences
    assert _away_from_edges(logits.detach(), t, 10, 1e-4)
    for class_level, average in [(True, 'all'), (True, 'present'), (False, 'all')]:
        def fn(x):
            return differentiable_ece_loss(
                x, target, lse_t=t, class_level=class_level, average=average)
        assert torch.autograd.gradcheck(fn, (logits, ), eps=1e-6, atol=1e-7)


def test_gradient_at_small_t_is_finite_and_analytic():
    """At t=1e-5, d conf / d p = softmax(p / t) = one-hot(argmax), so for pooled ECE
    dECE/dx_ij = s_b(i) / N * p_ic (1[j = c] - p_ij), c = argmax, s_m = sign(conf - acc) in bin m."""
    logits, target = random_batch(seed=1, b=1, c=4, h=6, w=7, ignore_frac=0.0)
    logits[0, :, 0, :3] *= 50  # saturated pixels: p = 1 in float32, gradient still finite
    logits.requires_grad_(True)
    differentiable_ece_loss(logits, target, class_level=False).sum().backward()
    assert torch.isfinite(logits.grad).all()

    x = logits.detach().double()[0].flatten(1)  # (C, N)
    y = target[0].flatten()
    p = x.softmax(dim=0)
    conf, pred = p.max(dim=0)
    bins = torch.clamp(torch.ceil(conf * 10).long() - 1, 0, 9)
    acc = (pred == y).double()
    sign = torch.zeros(10, dtype=torch.float64)
    for m in range(10):
        if (bins == m).any():
            sign[m] = torch.sign(conf[bins == m].sum() - acc[bins == m].sum())
    s = sign[bins] / y.numel()  # (N,)
    onehot = torch.nn.functional.one_hot(pred, 4).T.double()  # (C, N)
    expected = s * conf * (onehot - p)
    torch.testing.assert_close(logits.grad[0].flatten(1).double(), expected, rtol=1e-4, atol=1e-7)
    assert logits.grad.abs().sum() > 0


def test_module_reduction_weight_and_name():
    logits, target = random_batch()
    per_image = differentiable_ece_loss(logits, target)
    loss = DifferentiableECELoss(loss_weight=0.5)
    assert loss.loss_name == 'loss_ece'
    assert DifferentiableECELoss(loss_name='loss_cal').loss_name == 'loss_cal'
    torch.testing.assert_close(loss(logits, target), 0.5 * per_image.mean())
    torch.testing.assert_close(loss(logits, target, reduction_override='none'), 0.5 * per_image)
    torch.testing.assert_close(loss(logits, target, reduction_override='sum'),
                               0.5 * per_image.sum())
    # unit pixel weights change nothing; zero weights act like ignored pixels
    torch.testing.assert_close(loss(logits, target, weight=torch.ones(target.shape)),
                               loss(logits, target))
    w = (torch.rand(target.shape) > 0.5).float()
    torch.testing.assert_close(loss(logits, target, weight=w),
                               loss(logits, target.masked_fill(w == 0, 255)))
    with pytest.raises(ValueError):
        DifferentiableECELoss(average='valid')


def test_half_precision_logits():
    logits, target = random_batch()
    out = differentiable_ece_loss(logits.half(), target)  # p / 1e-5 would overflow float16
    assert out.dtype == torch.float32 and torch.isfinite(out).all() and (out > 0).all()
    torch.testing.assert_close(out, differentiable_ece_loss(logits.half().float(), target))


def test_in_decode_head_loss_decode_list():
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import mmsfda  # noqa: F401  (registers DifferentiableECELoss)

    head = MODELS.build(
        dict(type='FCNHead', in_channels=8, channels=8, num_convs=1, num_classes=4,
             concat_input=False, norm_cfg=None, dropout_ratio=0.0, align_corners=False,
             loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                          dict(type='DifferentiableECELoss', loss_weight=1.0)]))
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 8, 4, 6, generator=g)]
    samples = []
    for _ in range(2):
        s = SegDataSample()
        label = torch.randint(0, 4, (1, 16, 24), generator=g)
        label[:, :2] = 255
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(dict(img_shape=(16, 24), ori_shape=(16, 24)))
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg=dict())
    assert {'loss_ce', 'loss_ece', 'acc_seg'} <= set(losses)

    # same value as the function on the head's logits resized to label size
    from mmseg.models.utils import resize
    logits = resize(head.forward(feats), size=(16, 24), mode='bilinear', align_corners=False)
    labels = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    torch.testing.assert_close(losses['loss_ece'], differentiable_ece_loss(logits, labels).mean())

    head.zero_grad()
    losses['loss_ece'].backward()
    grad = head.conv_seg.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
