"""AdaptSegNet / AdvEnt: discriminator, GAN losses, the two optimiser steps."""
import copy
import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from conftest import REPO
from test_models.test_segmentors import adaptation_models as am
from mmsfda.models.losses.gan_loss import GANLoss, gan_loss


def multi_level_student():
    cfg = am.student_cfg(REPO)
    cfg['backbone']['out_indices'] = (2, 3)
    cfg['decode_head']['in_index'] = 1
    cfg['auxiliary_head'] = dict(cfg['decode_head'], in_channels=64, in_index=0,
                                 loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.1))
    return cfg


def build(**kwargs):
    cfg = dict(type='AdversarialSegmentor', setting='uda', student=am.student_cfg(REPO),
               discriminator=dict(type='FCDiscriminator', in_channels=am.NUM_CLASSES, channels=8))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def optim(model):
    return build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        student=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
        discriminator=dict(type='OptimWrapper', module='aux',
                           optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.99)))))


def test_discriminator_shapes_and_channel_check():
    d = MODELS.build(dict(type='FCDiscriminator', in_channels=4))
    assert [m.out_channels for m in d.layers if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256,
                                                                                   512, 1]
    assert d(torch.rand(2, 4, 64, 128)).shape == (2, 1, 2, 4)
    with pytest.raises(ValueError, match='4 input channels'):
        d(torch.rand(2, 5, 64, 64))


def test_gan_losses_by_hand():
    zeros = torch.zeros(1, 1, 2, 2)
    assert gan_loss(zeros, 1.0, 'bce').item() == pytest.approx(math.log(2))
    assert gan_loss(torch.full((1, 1, 2, 2), 0.5), 1.0, 'lsgan').item() == pytest.approx(0.25)
    assert GANLoss('lsgan', loss_weight=2.0)(torch.ones(1, 1, 1, 1), 0.0).item() == 2.0
    with pytest.raises(ValueError, match='bce'):
        GANLoss('wgan')


@pytest.mark.parametrize('space', ['softmax', 'entropy'])
def test_two_steps_update_their_own_parameters(space):
    torch.manual_seed(0)
    model = build(input_space=space, target_losses=[dict(type='EntropyLoss', loss_weight=0.001)])
    ow = optim(model)
    before = copy.deepcopy(model.state_dict())
    log_vars = model.train_step(am.uda_batch(), ow)
    assert {'src.decode.loss_ce', 'tgt.loss_adv_main', 'tgt.loss_entropy', 'loss_d_main',
            'loss_discriminator'} <= set(log_vars)
    after = model.state_dict()
    for key in ('aux.main.layers.0.weight', 'student.decode_head.aspp.0.weight'):
        assert not torch.equal(before[key], after[key]), key
    assert model._maps == {}  # the discriminator step consumed the maps


def test_the_discriminator_sees_the_maps_of_its_input_space():
    model = build(input_space='entropy')
    data = model.data_preprocessor(am.uda_batch(), True)
    model(**data, mode='loss')
    logits = model.student_forward(data['inputs']['target']).logits.detach()
    p = logits.softmax(1)
    expected = -(p * p.log()).sum(1) / math.log(am.NUM_CLASSES)
    assert torch.allclose(model._maps['target']['main'].sum(1), expected, atol=1e-5)


def test_multi_level_adds_the_auxiliary_head():
    torch.manual_seed(0)
    model = build(student=multi_level_student(), multi_level=True, lambda_adv=(0.001, 0.0002))
    assert set(model.aux) == {'main', 'aux'}
    log_vars = model.train_step(am.uda_batch(), optim(model))
    assert {'tgt.loss_adv_main', 'tgt.loss_adv_aux', 'loss_d_aux', 'src.aux.loss_ce'} <= set(
        log_vars)


def test_bad_configurations():
    with pytest.raises(ValueError, match='auxiliary_head'):
        build(multi_level=True, lambda_adv=(0.001, 0.0002))
    with pytest.raises(ValueError, match='one weight per level'):
        build(lambda_adv=(0.001, 0.0002))
    with pytest.raises(ValueError, match='setting="uda"'):
        build(setting='sfda')
    with pytest.raises(ValueError, match='input_space'):
        build(input_space='logits')
    model = build()
    data = model.data_preprocessor(am.uda_batch(), True)
    with pytest.raises(RuntimeError, match='after the segmenter step'):
        model(**data, mode='discriminator_loss')
