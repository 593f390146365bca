"""MUNITLite: the networks' shapes, the two-optimiser step, the generator's losses."""
import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmsfda.models.translators.munit_lite import (ContentEncoder, Decoder,
                                                  MultiScaleDiscriminator, frozen)

TINY = dict(generator=dict(base_channels=8, num_res_blocks=1),
            discriminator=dict(base_channels=8, num_layers=2, num_scales=2), image_size=(16, 32))


def test_network_shapes():
    enc, dec = ContentEncoder(base_channels=8, num_res_blocks=2), Decoder(base_channels=8,
                                                                          num_res_blocks=2)
    x = torch.randn(2, 3, 16, 32)
    c = enc(x)
    assert c.shape == (2, 32, 4, 8)
    y = dec(c)
    assert y.shape == x.shape and y.abs().max() <= 1  # tanh
    outs = MultiScaleDiscriminator(base_channels=8, num_layers=2, num_scales=3)(x)
    assert [tuple(o.shape) for o in outs] == [(2, 1, 4, 8), (2, 1, 2, 4), (2, 1, 1, 2)]


def _batch(b=2):
    """A raw DomainPairDataset batch (uint8 BGR images, labels with two classes)."""
    torch.manual_seed(0)
    samples = []
    for _ in range(b):
        label = torch.zeros(1, 16, 32, dtype=torch.long)
        label[..., 10:] = 1
        samples.append(SegDataSample(gt_sem_seg=PixelData(data=label)))
    return dict(source=dict(inputs=[torch.randint(0, 256, (3, 16, 32), dtype=torch.uint8)
                                    for _ in range(b)], data_samples=samples),
                target=dict(inputs=[torch.randint(0, 256, (3, 16, 32), dtype=torch.uint8)
                                    for _ in range(b)],
                            data_samples=[SegDataSample() for _ in range(b)]))


def _wrappers(model):
    return OptimWrapperDict(**{
        name: OptimWrapper(torch.optim.Adam(getattr(model, name).parameters(), lr=1e-3,
                                            betas=(0.5, 0.999)))
        for name in ('generator', 'discriminator')})


def test_train_step_updates_both_and_logs_every_loss():
    model = MODELS.build(dict(type='MUNITLite', **TINY))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    log = model.train_step(_batch(), _wrappers(model))
    assert set(log) == {'loss_dis_target', 'loss_dis_source', 'loss_discriminator', 'loss_adv',
                        'loss_cycle', 'loss_recon', 'loss_edge', 'loss_generator'}
    assert log['loss_edge'] > 0  # the source labels have an edge
    changed = {k.split('.')[0] for k, v in model.state_dict().items()
               if not torch.equal(v, before[k])}
    assert changed == {'generator', 'discriminator'}
    assert torch.equal(model.image_size, torch.tensor([16, 32]))
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_discriminator_step_leaves_the_generator_and_generator_step_the_discriminator():
    model = MODELS.build(dict(type='MUNITLite', **TINY))
    data = model.data_preprocessor(_batch(), True)
    losses = model.discriminator_loss(data['inputs'])
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.generator.parameters())
    model.zero_grad(set_to_none=True)
    losses = model.loss(**data)
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert any(p.grad is not None for p in model.generator.parameters())


def test_weights_and_disabled_terms():
    model = MODELS.build(dict(type='MUNITLite', **TINY, recon_weight=0, edge_loss=None,
                              adv_weight=1.0, cycle_weight=1.0))
    data = model.data_preprocessor(_batch(), True)
    losses = model.loss(**data)
    assert set(losses) == {'loss_adv', 'loss_cycle'}
    g = model.generator
    x_s, x_t = data['inputs']['source'], data['inputs']['target']
    cycle = (torch.nn.functional.l1_loss(g.translate(g.translate(x_s, 'source', 'target'),
                                                     'target', 'source'), x_s)
             + torch.nn.functional.l1_loss(g.translate(g.translate(x_t, 'target', 'source'),
                                                       'source', 'target'), x_t))
    torch.testing.assert_close(losses['loss_cycle'], cycle)


def test_bad_input():
    model = MODELS.build(dict(type='MUNITLite', **TINY))
    with pytest.raises(ValueError, match='DomainPairDataset'):
        model.loss(torch.zeros(1, 3, 16, 32), [])
    with pytest.raises(KeyError, match='"generator" and "discriminator"'):
        model.train_step(_batch(), OptimWrapperDict(generator=OptimWrapper(
            torch.optim.Adam(model.generator.parameters()))))
    with pytest.raises(ValueError, match='image_size'):
        MODELS.build(dict(type='MUNITLite', image_size=(16, )))


def test_frozen_restores_flags():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    net[1].requires_grad_(False)
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == [True, True, False, False]
