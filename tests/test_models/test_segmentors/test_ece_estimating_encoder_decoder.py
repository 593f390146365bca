import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmsfda  # noqa: F401
from conftest import REPO
from mmsfda.models.losses.differentiable_ece_loss import differentiable_ece_loss
from test_self_training_segmentor import NUM_CLASSES, batch


def model_cfg(use_decoder=True, **kwargs):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/deeplabv2_r18-tiny.py').model
    cfg['decode_head']['num_classes'] = NUM_CLASSES
    cfg['data_preprocessor']['size'] = (32, 64)
    cfg.update(type='ECEEstimatingEncoderDecoder',
               value_head=dict(type='ECEValueHead', in_channels=128, num_classes=NUM_CLASSES,
                               channels=8, use_decoder=use_decoder), **kwargs)
    return cfg


def build(**kwargs):
    model = MODELS.build(model_cfg(**kwargs))
    model.init_weights()
    return model


def step(model, data):
    data = model.data_preprocessor(data, True)
    return model(**data, mode='loss')


def test_value_loss_regresses_the_class_level_ece_seg_loss_logged_only():
    torch.manual_seed(0)
    model = build()
    losses = step(model, batch())
    loss_keys = {k for k in losses if 'loss' in k}
    assert loss_keys == {'value.loss_mse'}  # decode.ce is logged, not optimised
    assert 'decode.ce' in losses and not losses['decode.ce'].requires_grad
    # the target is the differentiable class-level ECE of the current output
    data = model.data_preprocessor(batch(), True)
    feats = model.extract_feat(data['inputs'])
    logits = model.decode_head(feats)
    labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    logits = torch.nn.functional.interpolate(logits, size=labels.shape[1:], mode='bilinear')
    expected = differentiable_ece_loss(logits, labels).mean()
    assert torch.allclose(losses['value.class_ece'], expected, atol=1e-5)
    # as the public code, the segmenter is in the graph (features and ECE target)
    losses['value.loss_mse'].backward()
    assert model.backbone.stem[0].weight.grad is not None
    assert model.value_head.fc.weight.grad is not None


def test_detach_flags_keep_the_segmenter_out_of_the_graph():
    model = build(detach_features=True, detach_ece_target=True)
    step(model, batch())['value.loss_mse'].backward()
    assert model.backbone.stem[0].weight.grad is None
    assert all(p.grad is None for p in model.decode_head.parameters())
    assert model.value_head.fc.weight.grad is not None


def test_optimize_seg_loss_adds_the_decode_losses():
    losses = step(build(optimize_seg_loss=True), batch())
    assert {'decode.loss_ce', 'value.loss_mse'} <= set(losses)


def test_predict_attaches_the_estimate_without_a_second_backbone_pass():
    model = build().eval()
    data = model.data_preprocessor(batch(), False)
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(calls) == 1
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        feats_est = model.value_head(feats, model.decode_head(feats))
    assert [r.est_ece for r in results] == pytest.approx(feats_est.tolist(), abs=1e-6)
    assert results[0].pred_sem_seg.shape == (32, 64)


def test_value_head_classes_must_match_the_decoder():
    cfg = model_cfg()
    cfg['value_head']['num_classes'] = NUM_CLASSES + 1
    with pytest.raises(ValueError, match='must equal decode_head.num_classes'):
        MODELS.build(cfg)


def test_teacher_outputs_carry_the_estimates_for_the_labeler():
    model = MODELS.build(dict(type='SelfTrainingSegmentor', student=model_cfg(), teacher=True))
    model.init_weights()
    data = model.data_preprocessor(batch(), False)
    probs, ctx = model.teacher_outputs(data['inputs'])
    assert probs.shape == (2, NUM_CLASSES, 32, 64)
    assert set(ctx) == {'est_ece'} and ctx['est_ece'].shape == (2, )
    with torch.no_grad():  # the labelling model's estimate, from its features and decoder output
        net = model.teacher.eval() if model.teacher_mode == 'eval' else model.teacher.train()
        feats = net.extract_feat(data['inputs'])
        expected = net.value_head(feats, net.decode_head(feats))
        assert torch.allclose(ctx['est_ece'], expected, atol=1e-6)
        assert torch.allclose(net.label_context(feats, net.decode_head(feats))['est_ece'],
                              expected, atol=1e-6)
    # a stage-2 (plain ECEEstimatingEncoderDecoder) checkpoint fills the value heads too
    plain = build().state_dict()
    model.load_state_dict(plain)
    assert torch.equal(model.teacher.value_head.fc.weight, plain['value_head.fc.weight'])
    assert torch.equal(model.student.value_head.fc.weight, plain['value_head.fc.weight'])


def test_bn_warmup_reaches_the_value_net():
    from mmsfda.engine.hooks.bn_stats_warmup_hook import BNStatsWarmupHook
    model = MODELS.build(dict(type='SelfTrainingSegmentor', student=model_cfg()))
    model.init_weights()
    hook = BNStatsWarmupHook(modules=['student.value_head', 'student.backbone'])
    _, layers = hook.warmup(model, [batch(seed=s) for s in range(2)])
    assert layers == len(hook.select_bn_layers(model))  # every chosen layer, value net included
    assert model.student.value_head.bn.num_batches_tracked.item() == 2
    # outside a warm-up (eval mode) the tensor forward does not run the value net
    model.eval()
    calls = []
    model.student.value_head.register_forward_hook(lambda *a: calls.append(1))
    data = model.data_preprocessor(batch(), False)
    model.student(data['inputs'], mode='tensor')
    assert not calls


def _decoder_only_sgd_steps(model, steps=3):
    """What Cal-SFDA stage 3 does after its first epoch: train the decoder only. The backbone is in
    eval mode as DeepLabV2-R101 with frozen BN, so its features do not move at all."""
    opt = torch.optim.SGD(model.decode_head.parameters(), lr=0.5)
    model.eval()
    for s in range(steps):
        data = model.data_preprocessor(batch(seed=10 + s), True)
        feats = [f.detach() for f in model.extract_feat(data['inputs'])]
        logits = model.decode_head(feats)
        loss = model.decode_head.loss_by_feat(logits, data['data_samples'])['loss_ce']
        opt.zero_grad()
        loss.backward()
        opt.step()


def _estimates_and_features(model, data):
    with torch.no_grad():
        results = model(**data, mode='predict')
        feats = model.extract_feat(data['inputs'])[-1].clone()
    return torch.tensor([r.est_ece for r in results]), feats


@pytest.mark.parametrize('use_decoder', [True, False])
def test_only_the_decoder_changes_the_estimate_follows_it_by_default(use_decoder):
    """The default value net sees a decoder-only change; the paper code's value net (backbone
    features only) gives bit-identical estimates, so label-free selection over the checkpoints of
    Cal-SFDA's decoder-only phase could not tell them apart (issue 9, section 5)."""
    torch.manual_seed(0)
    model = build(use_decoder=use_decoder)
    data = model.data_preprocessor(batch(), False)
    model.eval()
    est0, feats0 = _estimates_and_features(model, data)
    dec0 = [p.detach().clone() for p in model.decode_head.parameters()]
    _decoder_only_sgd_steps(model)
    est1, feats1 = _estimates_and_features(model, data)
    assert any(not torch.equal(a, b) for a, b in zip(dec0, model.decode_head.parameters()))
    assert torch.equal(feats0, feats1)  # only the decoder changed
    if use_decoder:
        assert (est1 - est0).abs().min() > 1e-5
    else:
        assert torch.equal(est0, est1)
