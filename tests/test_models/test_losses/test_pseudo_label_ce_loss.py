"""PseudoLabelCELoss: DACS normalisation, the weighted mean, ignored pixels and gradients."""
import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.losses.pseudo_label_ce_loss import PseudoLabelCELoss, pseudo_label_ce_loss
from mmsfda.models.pseudo_labelers.pseudo_labels import PseudoLabels


def make(seed=0, b=2, c=4, h=3, w=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, c, (b, h, w), generator=g)
    labels[torch.rand(b, h, w, generator=g) < 0.3] = 255
    weights = torch.rand(b, h, w, generator=g, dtype=torch.float64)
    return logits, labels, weights


def per_pixel_ce(logits, labels):
    """-log softmax at the label, 0 on ignored pixels, written out by hand."""
    logp = torch.log_softmax(logits, dim=1)
    valid = labels != 255
    picked = logp.gather(1, labels.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
    return torch.where(valid, -picked, torch.zeros_like(picked)), valid


def test_pixels_average_is_dacs_normalisation():
    logits, labels, weights = make()
    ce, valid = per_pixel_ce(logits, labels)
    ref = (weights * ce).sum() / labels.numel()
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, weights), ref)
    # and equals mmseg's own CrossEntropyLoss with a pixel weight (what DAFormer trains with)
    from mmseg.models.losses.cross_entropy_loss import cross_entropy
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, weights),
                          cross_entropy(logits, labels, weight=weights, ignore_index=255))
    # the DACS scalar pseudo-weight, broadcast from (B, 1, 1)
    scalar = torch.tensor([0.25, 0.75], dtype=torch.float64)[:, None, None]
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, scalar),
                          (scalar * ce).sum() / labels.numel())


def test_weights_average():
    logits, labels, weights = make(1)
    ce, valid = per_pixel_ce(logits, labels)
    w = weights * valid  # weights on ignored pixels do not count
    ref = (w * ce).sum() / w.sum()
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, weights, avg='weights'), ref)
    # no weights: plain mean over labelled pixels
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, avg='weights'),
                          F.cross_entropy(logits, labels, ignore_index=255))


def test_class_weight():
    logits, labels, weights = make(2)
    cw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    ce = F.cross_entropy(logits, labels, weight=cw, reduction='none', ignore_index=255)
    assert torch.allclose(pseudo_label_ce_loss(logits, labels, weights, class_weight=cw),
                          (weights * ce).sum() / labels.numel())


@pytest.mark.parametrize('avg', ['pixels', 'weights'])
@pytest.mark.parametrize('case', ['all_ignored', 'zero_weights'])
def test_empty_batch_is_zero_without_nan(avg, case):
    logits, labels, weights = make(3)
    logits.requires_grad_(True)
    if case == 'all_ignored':
        labels = torch.full_like(labels, 255)
    else:
        weights = torch.zeros_like(weights)
    loss = PseudoLabelCELoss(avg=avg)(logits, PseudoLabels(labels, weights))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))


def test_gradient_and_module():
    from mmseg.registry import MODELS
    import mmsfda  # noqa: F401
    loss_fn = MODELS.build(dict(type='PseudoLabelCELoss', avg='weights', loss_weight=0.5))
    assert loss_fn.loss_name == 'loss_pl_ce'
    logits, labels, weights = make(4)
    logits.requires_grad_(True)
    pl = PseudoLabels(labels, weights)
    assert torch.autograd.gradcheck(lambda x: loss_fn(x, pl), (logits,))
    # the gradient of a labelled pixel is w * (softmax - onehot) / sum(w); 0 on ignored pixels
    loss_fn(logits, pl).backward()
    valid = labels != 255
    w = weights * valid
    onehot = F.one_hot(labels.clamp(max=3), 4).permute(0, 3, 1, 2).double()
    ref = 0.5 * w[:, None] * (torch.softmax(logits.detach(), 1) - onehot) / w.sum()
    assert torch.allclose(logits.grad, ref)
    assert torch.equal(logits.grad.permute(0, 2, 3, 1)[~valid],
                       torch.zeros_like(logits.grad.permute(0, 2, 3, 1)[~valid]))
    no_w = PseudoLabelCELoss(use_weights=False)
    assert torch.allclose(no_w(logits, pl), pseudo_label_ce_loss(logits, labels))


def test_errors():
    logits, labels, _ = make()
    with pytest.raises(ValueError, match='same resolution'):
        pseudo_label_ce_loss(logits, labels[:, :2])
    with pytest.raises(ValueError, match='avg'):
        PseudoLabelCELoss(avg='mean')
    with pytest.raises(ValueError, match='pseudo-labels'):
        PseudoLabelCELoss()(logits, None)
