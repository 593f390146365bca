"""T2S-DA's pseudo-target view at a beta that swaps frequencies at the tests' 32x64 images (the
configs' 0.01 swaps none there, so a view made from the wrong style image would pass unnoticed):
``style_from='target'`` takes the target batch's amplitude; ``'source'`` (the weight-free DG
stand-in the README lists without a config) the next source image's (the batch rolled by one), and
a DG step with it trains on plain source batches."""
import torch

from test_models.test_segmentors.adaptation_models import batch
from test_models.test_segmentors.test_t2sda_segmentor import DG, build, step, uda_data

FDA_CFG = dict(type='FDA', beta=0.1)


def views(style_from):
    from mmsfda.models.augmentations.fda import FDA
    model = build(style_from=style_from, pseudo_target=FDA_CFG)
    data = model.data_preprocessor(uda_data(), True)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    view = model.pseudo_target_view(source, target)
    mean, std = model.data_preprocessor.mean.view(-1), model.data_preprocessor.std.view(-1)
    return view, source, target, lambda style: FDA(beta=0.1)(source.img, style, mean, std)


def test_target_style_is_the_target_batch():
    view, source, target, fda = views('target')
    assert torch.allclose(view.img, fda(target.img))
    assert not torch.allclose(view.img, source.img)
    assert not torch.allclose(view.img, fda(source.img.roll(1, 0)))
    assert view.samples is source.samples


def test_source_style_is_the_batch_rolled_by_one():
    view, source, target, fda = views('source')
    assert torch.allclose(view.img, fda(source.img.roll(1, 0)))
    assert not torch.allclose(view.img, source.img)
    assert not torch.allclose(view.img, fda(target.img))
    assert view.samples is source.samples


def test_dg_step_with_fda_from_source():
    model = build(DG, pseudo_target=FDA_CFG, style_from='source')
    log = step(model, batch(seed=3))
    assert float(log['src.loss_t2s'].detach()) > 0 and not any(k.startswith('tgt.') for k in log)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())
