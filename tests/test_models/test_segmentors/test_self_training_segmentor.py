import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS

import mmsfda  # noqa: F401
from conftest import REPO
from test_models.test_segmentors.adaptation_models import batch  # noqa: F401 (shared)

NUM_CLASSES = 4


def student_cfg():
    # A ConfigDict, as the runner passes it: mmseg reads test_cfg.mode as an attribute.
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/deeplabv2_r18-tiny.py').model
    cfg['decode_head']['num_classes'] = NUM_CLASSES
    cfg['data_preprocessor']['size'] = (32, 64)
    return cfg


def build(**kwargs):
    cfg = dict(type='SelfTrainingSegmentor', student=student_cfg(), **kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def train_losses(model, data):
    data = model.data_preprocessor(data, True)
    return model(**data, mode='loss')


def test_tent_trains_norm_parameters_only():
    model = build(trainable='norm', target_losses=[dict(type='EntropyLoss')])
    losses = train_losses(model, batch())
    assert set(losses) == {'tgt.loss_entropy'}
    losses['tgt.loss_entropy'].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads['student.backbone.layer1.0.bn1.weight'] is not None
    assert grads['student.backbone.layer1.0.conv1.weight'] is None
    assert all(g is None for n, g in grads.items() if n.startswith('teacher.'))


def test_plain_checkpoint_fills_student_and_teacher():
    plain = MODELS.build(student_cfg())
    plain.init_weights()
    model = build(teacher=True, target_losses=[dict(type='EntropyLoss')])
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(model, copy.deepcopy(plain.state_dict()), strict=True)
    for k, v in plain.state_dict().items():
        assert torch.equal(model.student.state_dict()[k], v)
        assert torch.equal(model.teacher.state_dict()[k], v)


def test_teacherless_stage_checkpoint_fills_the_teacher_buffers_included():
    # E.g. ATP's Propagate (EMA teacher) from Teach's checkpoint (offline rounds: no teacher).
    stage = build(target_losses=[dict(type='EntropyLoss')])
    with torch.no_grad():
        for k, v in stage.student.state_dict().items():
            if v.is_floating_point():
                v.normal_()  # running statistics included: the untrained ones are 0 and 1
    model = build(teacher=True, target_losses=[dict(type='EntropyLoss')])
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(model, copy.deepcopy(stage.state_dict()), strict=True)
    for k, v in stage.student.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[k], v), k
    # A checkpoint with its own teacher (a resume) keeps it.
    ckpt = copy.deepcopy(model.state_dict())
    ckpt['teacher.backbone.stem.1.running_mean'] += 1
    load_state_dict(model, copy.deepcopy(ckpt), strict=True)
    assert torch.equal(model.teacher.backbone.stem[1].running_mean,
                       ckpt['teacher.backbone.stem.1.running_mean'])
    assert not torch.equal(model.teacher.backbone.stem[1].running_mean,
                           model.student.backbone.stem[1].running_mean)


def test_plain_checkpoint_with_other_num_classes_is_an_error():
    cfg = student_cfg()
    cfg['decode_head']['num_classes'] = NUM_CLASSES + 1
    plain = MODELS.build(cfg)
    model = build(target_losses=[dict(type='EntropyLoss')])
    from mmengine.runner.checkpoint import load_state_dict
    with pytest.raises(ValueError, match='num_classes'):
        load_state_dict(model, plain.state_dict())


def test_teacher_student_mismatch():
    teacher = student_cfg()
    teacher['decode_head']['num_classes'] = NUM_CLASSES + 1
    with pytest.raises(ValueError, match='teacher and student architectures differ'):
        build(teacher=teacher, target_losses=[dict(type='EntropyLoss')])


def test_sfda_rejects_source_batches_and_mixers():
    model = build(target_losses=[dict(type='EntropyLoss')])
    data = dict(source=batch(), target=batch())
    with pytest.raises(ValueError, match='source-free'):
        train_losses(model, data)
    with pytest.raises(ValueError, match='mixer'):
        build(mixer=dict(type='ClassMix'), target_losses=[dict(type='EntropyLoss')])


def dacs_model(threshold=0.968, **kwargs):
    return build(setting='uda', teacher=True, **kwargs,
                 pseudo_labeler=dict(type='ThresholdLabeler', threshold=threshold,
                                     weight_mode='dacs'),
                 mixer=dict(type='ClassMix'), strong_augment=dict(type='StrongAugment'),
                 target_losses=[dict(type='PseudoLabelCELoss')])


def test_uda_step_losses_and_stats():
    torch.manual_seed(0)
    model = dacs_model(threshold=0.0, diagnostics_use_target_gt=True)
    model.record_pseudo_label_stats = True  # PseudoLabelStatsHook sets it on logging iterations
    losses = train_losses(model, dict(source=batch(seed=1), target=batch(seed=2)))
    assert {'src.decode.loss_ce', 'tgt.loss_pl_ce'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert losses['tgt.loss_pl_ce'] > 0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    # Target ground truth was loaded and diagnostics may read it: accuracy counts are there.
    assert model.pseudo_label_stats['labelled'].shape == (NUM_CLASSES, )
    assert model.pseudo_label_stats['correct'].shape == (NUM_CLASSES, )
    assert model.student.decode_head.aspp[0].weight.grad is not None


def test_no_confident_pixel_gives_zero_target_loss_not_nan():
    torch.manual_seed(0)
    model = dacs_model(threshold=1.1)  # no pixel can pass: DACS weight 0 on target pixels
    losses = train_losses(model, dict(source=batch(seed=1), target=batch(seed=2)))
    assert torch.isfinite(losses['tgt.loss_pl_ce'])


def test_uda_needs_source():
    model = dacs_model()
    with pytest.raises(ValueError, match='needs source batches'):
        train_losses(model, dict(target=batch()))


def test_predict_with_teacher_or_student():
    model = build(teacher=True, target_losses=[dict(type='EntropyLoss')], predict_with='teacher')
    with torch.no_grad():
        model.teacher.decode_head.aspp[0].bias[1] = 100.  # the teacher predicts class 1 only
    model.eval()
    data = model.data_preprocessor(batch(with_gt=False), False)
    out = model(**data, mode='predict')
    assert len(out) == 2 and out[0].pred_sem_seg.data.shape == (1, 32, 64)
    assert (out[0].pred_sem_seg.data == 1).all()
    model.predict_with = 'student'
    out = model(**data, mode='predict')
    assert not (out[0].pred_sem_seg.data == 1).all()


def test_dataset_pseudo_labels_with_padded_weights():
    """Offline labels (pseudo_labels_from='dataset'): images smaller than the crop are padded, and
    the per-pixel weights with them (0 on padding, so padding never counts)."""
    model = build(pseudo_labels_from='dataset', target_losses=[dict(type='PseudoLabelCELoss')])
    data = batch(shape=(24, 48))
    for s in data['data_samples']:
        s.pseudo_weight = PixelData(data=torch.full((1, 24, 48), 0.5))
    out = model.data_preprocessor(data, True)
    w = out['data_samples'][0].pseudo_weight.data
    assert w.shape == (1, 32, 64) and w[0, :24, :48].eq(0.5).all() and w[0, 24:].eq(0).all()
    losses = model(**out, mode='loss')
    assert torch.isfinite(losses['tgt.loss_pl_ce']) and losses['tgt.loss_pl_ce'] > 0


def test_stats_only_when_asked_and_never_target_gt_by_default():
    torch.manual_seed(0)
    model = dacs_model(threshold=0.0)
    data = dict(source=batch(seed=1), target=batch(seed=2))
    train_losses(model, data)
    assert model.pseudo_label_stats == {}  # not a logging iteration: nothing computed
    model.record_pseudo_label_stats = True
    train_losses(model, data)
    # The target pipeline loaded ground truth, but training runs never read it.
    assert 'labelled' in model.pseudo_label_stats and 'correct' not in model.pseudo_label_stats
