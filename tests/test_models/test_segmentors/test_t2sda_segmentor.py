"""T2SDASegmentor / T2SDGSegmentor on the tiny MiT: the step, its state and its bad inputs."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from test_models.test_segmentors.adaptation_models import NUM_CLASSES, SHAPE, batch
from conftest import REPO

UDA = f'{REPO}/configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
DG = f'{REPO}/configs/t2sda/t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py'


def build(config=UDA, **overrides):
    cfg = Config.fromfile(config).model
    cfg.student.data_preprocessor.size = SHAPE
    cfg.student.decode_head.num_classes = NUM_CLASSES
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def step(model, data):
    ow = build_optim_wrapper(model, dict(type='OptimWrapper',
                                         optimizer=dict(type='SGD', lr=0.01)))
    return model.train_step(data, ow)


def uda_data(source_classes=None):
    src = batch(seed=1)
    if source_classes is not None:  # only these classes in the source labels
        for s in src['data_samples']:
            lab = s.gt_sem_seg.data
            s.gt_sem_seg.data = torch.tensor(source_classes)[lab % len(source_classes)]
    return dict(source=src, target=batch(seed=2, with_gt=False))


def test_uda_step_trains_the_projection_and_keeps_the_state():
    model = build()
    key_before = model.aux['key_projection'].mlp[0].weight.clone()
    head_before = model.aux['projection'].mlp[0].weight.clone()
    assert torch.equal(key_before, head_before)  # the key head starts as a copy
    log = step(model, uda_data())
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())
    assert float(log['src.loss_t2s']) > 0 and float(log['src.t2s_classes']) == NUM_CLASSES
    head = model.aux['projection'].mlp[0].weight
    assert not torch.equal(head, head_before)  # trained by the T2S loss
    assert not any(p.requires_grad for p in model.aux['key_projection'].parameters())
    log = step(model, uda_data())
    key = model.aux['key_projection'].mlp[0].weight
    assert not torch.equal(key, key_before) and not torch.equal(key, head)  # EMA, lagging
    mem = model.aux['t2s_memory']
    assert mem.prototype_valid.all()
    assert torch.allclose(mem.prototypes.norm(dim=1), torch.ones(NUM_CLASSES), atol=1e-5)
    assert (model.aux['t2s_reweighting'].score > 0).any()
    state = model.state_dict()
    assert {'aux.t2s_memory.prototypes', 'aux.t2s_reweighting.score',
            'aux.key_projection.mlp.2.weight'} <= set(state)
    assert model._pools is None and model._target_pool is None  # nothing outlives the step


def test_pseudo_target_view_is_fda_with_the_target_batch():
    from mmsfda.models.augmentations.fda import FDA
    model = build()
    data = model.data_preprocessor(uda_data(), True)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    view = model.pseudo_target_view(source, target)
    mean, std = model.data_preprocessor.mean.view(-1), model.data_preprocessor.std.view(-1)
    assert torch.allclose(view.img, FDA(beta=0.01)(source.img, target.img, mean, std))
    assert view.samples is source.samples
    assert build(pseudo_target=None).pseudo_target_view(source, target) is source


def test_no_reliable_target_pixel_and_a_class_without_source_pixels():
    """Nothing reaches the reliability threshold: no target query, zero loss, counted; classes 2
    and 3 never appear in the source: no prototype, their target queries skipped and counted."""
    model = build(reliable_threshold=1.01)
    log = step(model, uda_data())
    assert float(log['tgt.t2s_classes']) == 0 and float(log['tgt.loss_t2s']) == 0
    model = build(reliable_threshold=0.0)  # every target pixel is a query, none a negative
    log = step(model, uda_data(source_classes=[0, 1]))
    assert model.aux['t2s_memory'].prototype_valid.tolist() == [True, True, False, False]
    assert float(log['src.t2s_classes']) == 2
    assert float(log['tgt.t2s_skipped_no_prototype']) >= 1  # pseudo-classes 2/3 of the target
    assert float(log['src.t2s_missing_target_negatives']) == 2  # no unreliable target pixel
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())


@pytest.mark.parametrize('score', ['source_accuracy', 'target_confidence',
                                   'contrastive_accuracy'])
def test_reweight_scores(score):
    model = build(reweight_score=score, memory=dict(queue_size=8, queue_push=4))
    step(model, uda_data())
    assert model.aux['t2s_reweighting'].seen.any()
    assert model.aux['t2s_memory'].queue_len.sum() > 0


def test_keys_every_second_step_come_from_the_memory_between():
    """key_interval=2: the teacher's clean-source forward runs on steps 0, 2, 4; on 1 and 3 the
    prototypes stay as they were and the source negatives are the queued keys; the step count
    is a buffer (a resumed run continues the cycle)."""
    model = build(key_interval=2, memory=dict(queue_size=16, queue_push=16))
    teacher_forwards = []
    features = model._decoder_features

    def counting(net, img):
        teacher_forwards.append(net is model.teacher and img.shape[0] == 2)
        return features(net, img)
    model._decoder_features = counting
    mem = model.aux['t2s_memory']
    for i in range(5):
        before = mem.prototypes.clone()
        source_calls = len(teacher_forwards)
        log = step(model, uda_data())
        # one teacher forward labels the target every step; the keys add a second on even steps
        assert len(teacher_forwards) - source_calls == (2 if i % 2 == 0 else 1)
        if i > 0:  # step 0 sets the prototypes
            assert torch.equal(mem.prototypes, before) == (i % 2 == 1)
        assert float(log['src.loss_t2s']) > 0 and float(log['src.t2s_classes']) == NUM_CLASSES
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values())
    assert int(model.state_dict()['t2s_step']) == 5
    with pytest.raises(ValueError, match='memory.queue_size > 0'):
        build(key_interval=2)
    with pytest.raises(ValueError, match='key_interval must be >= 1'):
        build(key_interval=0)


@pytest.mark.parametrize('where', ['pseudo_target', 'clean'])
def test_where_the_source_loss_is_taken(where):
    """The student's backbone sees the FDA view (the queries) in both forms; the clean source
    image only when the supervised loss is taken on it (source_loss_view='clean')."""
    model = build(source_loss_view=where)
    data = model.data_preprocessor(uda_data(), True)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    view = model.pseudo_target_view(source, target)
    seen = []
    backbone = model.student.backbone
    forward = backbone.forward
    backbone.forward = lambda img: seen.append(img.detach().clone()) or forward(img)
    log = step(model, uda_data())
    assert float(log['src.loss_t2s']) > 0 and float(log['src.decode.loss_ce']) > 0
    assert any(torch.allclose(img, view.img) for img in seen)
    assert any(torch.equal(img, source.img) for img in seen) == (where == 'clean')
    # student forwards: source (one view, or clean + view) and the ClassMix image
    assert len(seen) == (3 if where == 'clean' else 2)
    with pytest.raises(ValueError, match='source_loss_view must be one of'):
        build(source_loss_view='target')


def test_dg_trains_on_plain_source_batches():
    model = build(DG)
    assert 'pseudo_labeler' not in dict(model.named_children())
    log = step(model, batch(seed=3))
    assert float(log['src.loss_t2s']) > 0 and not any(k.startswith('tgt.') for k in log)
    with pytest.raises(ValueError, match='must not be a DomainPairDataset'):
        step(model, uda_data())


def test_bad_configs():
    with pytest.raises(ValueError, match='negative_domains must be "source"'):
        build(DG, t2s_loss=dict(type='T2SContrastiveLoss', negative_domains='both'))
    with pytest.raises(ValueError, match='style_from must be "source" or None'):
        build(DG, style_from='target')
    with pytest.raises(ValueError, match='reweight_score'):
        build(reweight_score='iou')
    with pytest.raises(ValueError, match='teacher=True'):
        build(teacher=None)


def test_checkpoint_with_another_projection_width_is_refused():
    model = build()
    other = build(projection=dict(type='PixelProjectionHead', hidden_channels=64, out_channels=16))
    with pytest.raises(ValueError, match='aux.projection.mlp.2.weight.*another projection width'):
        model.load_state_dict(other.state_dict(), strict=False)
