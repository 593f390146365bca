"""UPLRSegmentor: AdvEnt + FDA + TGAA in two optimiser steps; its class uncertainty is state."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from conftest import REPO
from test_models.test_segmentors import adaptation_models as am


def build(**kwargs):
    cfg = dict(type='UPLRSegmentor', setting='uda', student=am.student_cfg(REPO), top_k=2,
               discriminator=dict(type='FCDiscriminator', channels=8), input_space='entropy')
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


def _set_uncertainty(model, values):
    cu = model.class_uncertainty
    cu.pixel_count.fill_(10)
    cu.unc_sum.copy_(10 * torch.tensor(values, dtype=torch.float64))
    cu.finalize()


def test_rectifier_changes_only_the_adversarial_term_and_both_steps_train():
    torch.manual_seed(0)
    plain = build(rectifier=None)
    rect = build(rectifier='top_k')
    rect.load_state_dict(plain.state_dict())
    _set_uncertainty(rect, [0.1, 0.5, 0.4, 0.2])
    assert rect.class_uncertainty.uncertain_classes == [1, 2]
    batch = am.uda_batch()
    before = copy.deepcopy(rect.state_dict())
    logs = {}
    for name, model in (('plain', plain), ('rect', rect)):
        torch.manual_seed(1)
        logs[name] = {k: float(v.detach()) for k, v in
                      model.train_step(copy.deepcopy(batch), optim(model)).items()}
    assert logs['plain']['src.decode.loss_ce'] == pytest.approx(logs['rect']['src.decode.loss_ce'])
    assert logs['plain']['tgt.loss_adv_main'] != pytest.approx(logs['rect']['tgt.loss_adv_main'])
    after = rect.state_dict()
    for key in ('aux.main.layers.0.weight', 'student.decode_head.aspp.0.weight'):
        assert not torch.equal(before[key], after[key]), key
    # I^c / S_k are checkpoint state
    assert torch.equal(after['class_uncertainty.uncertain'],
                       torch.tensor([False, True, True, False]))


def test_fda_translates_source_images_only():
    model = build(style_transfer=dict(type='FDA', beta=0.05))
    data = model.data_preprocessor(am.uda_batch(), True)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    assert not torch.allclose(source.img, data['inputs']['source'])
    assert torch.equal(target.img, data['inputs']['target'])
    plain = build()
    source, _ = plain.split_batch(data['inputs'], data['data_samples'])
    assert torch.equal(source.img, data['inputs']['source'])


def test_bad_configuration():
    with pytest.raises(ValueError, match='rectifier'):
        build(rectifier='entropy')
    with pytest.raises(ValueError, match='top_k'):
        build(top_k=9)
