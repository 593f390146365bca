"""Engine v2: BaseAdaptationSegmentor (optional teacher, aux state, named steps, train_step)."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import MODELS

from conftest import REPO, free_port
from test_models.test_segmentors import adaptation_models as am
from mmsfda.models.segmentors import BaseAdaptationSegmentor, StudentOutputs, StudentView


def build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def sfda_cfg(**kwargs):
    return dict(type='SelfTrainingSegmentor', student=am.student_cfg(REPO), **kwargs)


def sgd(model, lr=0.01):
    return build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=lr)))


def test_no_teacher_means_no_copy_and_labels_come_from_the_student():
    model = build(sfda_cfg(pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.0),
                           target_losses=[dict(type='PseudoLabelCELoss')], teacher_mode='eval'))
    assert model.teacher is None and model.label_model is model.student
    assert not any(k.startswith('teacher.') for k in model.state_dict())
    model.train()
    data = model.data_preprocessor(am.batch(with_gt=False), True)
    probs, _ = model.teacher_outputs(data['inputs'])
    # Labelling ran in eval mode and gave the student's eval prediction; train mode is restored.
    assert model.student.training and all(m.training for m in model.student.modules())
    model.eval()
    with torch.no_grad():
        expected = model.student.decode_head(model.student.extract_feat(data['inputs']))
    assert torch.allclose(probs, model._resize_logits(model.student, expected,
                                                      data['inputs']).softmax(1))


def test_teacher_true_copies_the_student_and_plain_checkpoints_fill_both():
    plain = build(am.student_cfg(REPO))
    model = build(sfda_cfg(teacher=True, target_losses=[dict(type='EntropyLoss')]))
    load_state_dict(model, copy.deepcopy(plain.state_dict()), strict=True)
    for k, v in plain.state_dict().items():
        assert torch.equal(model.student.state_dict()[k], v)
        assert torch.equal(model.teacher.state_dict()[k], v)
    assert not any(p.requires_grad for p in model.teacher.parameters())


def test_plain_state_dict_round_trip_loads_into_mmseg():
    model = build(sfda_cfg(teacher=True, target_losses=[dict(type='EntropyLoss')]))
    with torch.no_grad():
        model.student.decode_head.aspp[0].bias.add_(1.0)
    plain = build(am.student_cfg(REPO))
    plain.load_state_dict(model.to_plain_state_dict(), strict=True)
    assert torch.equal(plain.decode_head.aspp[0].bias, model.student.decode_head.aspp[0].bias)
    assert not torch.equal(plain.decode_head.aspp[0].bias,
                           model.to_plain_state_dict(part='teacher')['decode_head.aspp.0.bias'])
    with pytest.raises(ValueError, match='no teacher'):
        build(sfda_cfg(target_losses=[dict(type='EntropyLoss')])).to_plain_state_dict(
            part='teacher')


def test_aux_modules_are_in_checkpoints_and_reload():
    model = build(am.adversarial_cfg(REPO))
    state = model.state_dict()
    disc = [k for k in state if k.startswith('aux.discriminator.')]
    assert disc
    other = build(am.adversarial_cfg(REPO))
    with torch.no_grad():
        for p in other.aux.parameters():
            p.zero_()
    other.load_state_dict(state)
    assert all(torch.equal(other.state_dict()[k], state[k]) for k in disc)


def test_set_trainable_never_unfreezes_what_the_config_froze():
    cfg = sfda_cfg(target_losses=[dict(type='EntropyLoss')])
    cfg['student'] = am.student_cfg(REPO, frozen_norm=True)
    model = build(cfg)
    bn = dict(model.student.named_parameters())['backbone.layer1.0.bn1.weight']
    assert 'backbone.layer1.0.bn1.weight' in model.frozen_parameters and not bn.requires_grad
    names = model.set_trainable(None)
    assert not bn.requires_grad and 'backbone.layer1.0.bn1.weight' not in names
    assert dict(model.student.named_parameters())['backbone.layer1.0.conv1.weight'].requires_grad
    # TENT's 'norm' on a backbone whose BN is frozen: only the head's norms would be left; the
    # tiny DeepLabV2 head has none, so nothing is trainable, and that is an error, not a no-op.
    with pytest.raises(ValueError, match='frozen by the model config'):
        model.set_trainable(['backbone\\.layer1\\.0\\.bn1\\.'])


def test_a_method_overrides_one_step():
    class Flipped(BaseAdaptationSegmentor):
        """Trains the student on horizontally flipped target images."""

        def student_view(self, source, target, pseudo_labels):
            return StudentView(target.img.flip(-1), pseudo_labels)

    seen = {}

    class Spy(Flipped):
        def target_loss(self, outputs, pseudo_labels, target):
            seen['outputs'] = outputs
            return super().target_loss(outputs, pseudo_labels, target)

    model = Spy(student=am.student_cfg(REPO), target_losses=[dict(type='EntropyLoss')])
    model.init_weights()
    data = model.data_preprocessor(am.batch(with_gt=False), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'tgt.loss_entropy'}
    out = seen['outputs']
    assert isinstance(out, StudentOutputs) and out.logits.shape == (2, am.NUM_CLASSES, *am.SHAPE)
    flipped = data['inputs'].flip(-1)
    expected = model._resize_logits(
        model.student, model.student.decode_head(model.student.extract_feat(flipped)), flipped)
    assert torch.allclose(out.logits, expected, atol=1e-5)
    assert len(out.backbone_feats) >= 1 and out.decoder_feats is None
    with pytest.raises(TypeError, match='_forward_feature'):
        Flipped(student=am.student_cfg(REPO), decoder_features=True).student_forward(
            data['inputs'])


def _train_steps(backward_source_first, steps=2):
    torch.manual_seed(0)
    model = build(am.dacs_cfg(REPO, backward_source_first=backward_source_first))
    ow = sgd(model)
    torch.manual_seed(1)
    for i in range(steps):
        model.train_step(am.uda_batch(seed=i), ow)
    return model.student.state_dict()


def test_early_source_backward_gives_the_same_update():
    """Backpropagating the source loss first (memory) must not change the step."""
    early, late = _train_steps(True), _train_steps(False)
    init = build(am.dacs_cfg(REPO)).student.state_dict()
    assert any(not torch.equal(early[k], init[k]) for k in early)  # it trained
    for k in early:
        assert torch.allclose(early[k], late[k], atol=1e-5, rtol=1e-4), k


def test_two_optimisers_step_their_own_parameters():
    torch.manual_seed(0)
    model = build(am.adversarial_cfg(REPO))
    ow = build_optim_wrapper(model, am.multi_optim_cfg())
    assert isinstance(ow, OptimWrapperDict) and set(ow.keys()) == {'student', 'discriminator'}
    before = copy.deepcopy(model.state_dict())
    log_vars = model.train_step(am.uda_batch(), ow)
    assert {'loss', 'loss_discriminator', 'tgt.loss_adv', 'loss_d'} <= set(log_vars)
    after = model.state_dict()
    assert not torch.equal(before['aux.discriminator.net.0.weight'],
                           after['aux.discriminator.net.0.weight'])
    assert not torch.equal(before['student.decode_head.aspp.0.weight'],
                           after['student.decode_head.aspp.0.weight'])
    # The discriminator's step saw only its own loss: the segmenter's adversarial gradient on D was
    # dropped. Its Adam step from the D loss alone gives the same weights.
    ref = build(am.adversarial_cfg(REPO))
    ref.load_state_dict(before)
    ref.student.load_state_dict(model.student.state_dict())
    d_ow = build_optim_wrapper(ref, am.multi_optim_cfg())['discriminator']
    data = ref.data_preprocessor(am.uda_batch(), True)
    d_ow.update_params(ref.discriminator_loss(data['inputs'], data['data_samples'])['loss_d'])
    assert torch.allclose(ref.aux.discriminator.net[0].weight,
                          model.aux.discriminator.net[0].weight, atol=1e-6)


def test_bad_multi_optimiser_configs():
    model = build(am.adversarial_cfg(REPO))
    bad = am.multi_optim_cfg()
    bad['discriminator']['module'] = 'aux.nothing'
    with pytest.raises(ValueError, match='aux.nothing'):
        build_optim_wrapper(model, bad)
    plain = build(am.dacs_cfg(REPO))
    ow = build_optim_wrapper(plain, dict(
        constructor='MultiOptimWrapperConstructor',
        student=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))))
    with pytest.raises(TypeError, match='optim_steps'):
        plain.train_step(am.uda_batch(), ow)


@pytest.mark.skipif(not (torch_dist.is_available() and torch_dist.is_gloo_available()),
                    reason='torch.distributed with gloo is not available')
@pytest.mark.parametrize('mode', ['dacs', 'adversarial'])
def test_ddp_ranks_stay_identical(tmp_path, mode):
    """2 gloo processes, different data per rank: the early source backward (dacs) and the
    two-optimiser step (adversarial) are synchronised, so both ranks hold the same weights. A
    train_step that mmengine's DDP wrapper ignored, or an unsynchronised backward, breaks this."""
    worker = osp.join(osp.dirname(osp.abspath(__file__)), 'ddp_adaptation_worker.py')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                           '--master_port', str(free_port()), worker, mode, str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    r0, r1 = (torch.load(tmp_path / f'rank{r}.pt') for r in range(2))
    torch.manual_seed(0)
    init = build(am.adversarial_cfg(REPO) if mode == 'adversarial' else am.dacs_cfg(REPO))
    init = init.state_dict()
    trained = [k for k in r0 if k.startswith(('student.', 'aux.')) and r0[k].is_floating_point()
               and not torch.equal(r0[k], init[k])]
    assert trained, 'nothing trained'
    differ = [k for k in r0 if r0[k].is_floating_point() and k.startswith(('student.', 'aux.'))
              and 'running_' not in k and not torch.equal(r0[k], r1[k])]
    assert not differ, f'ranks differ at {differ[:5]}'
