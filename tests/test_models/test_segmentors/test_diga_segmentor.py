"""DiGASegmentor: the warm-up and self-training steps on a tiny model."""
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from test_models.test_segmentors.adaptation_models import NUM_CLASSES, SHAPE, batch, uda_batch
from conftest import REPO


def student():
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/deeplabv2-proda_r18-tiny.py').model
    cfg['decode_head']['num_classes'] = NUM_CLASSES
    cfg['data_preprocessor']['size'] = SHAPE
    return cfg


def build(stage='warmup', translator=dict(type='FDATranslatedView'), **kw):
    torch.manual_seed(0)
    cfg = dict(type='DiGASegmentor', student=student(), teacher=True, stage=stage,
               mixture=dict(type='CrossDomainMixture', translator=translator),
               distill_loss=dict(type='SymmetricKDLoss', loss_weight=0.5))
    if stage == 'selftrain':
        cfg.update(pseudo_labels_from='dataset',
                   pseudo_labeler=dict(type='ThresholdLabeler', weight_mode='none'),
                   selector=dict(type='PrototypeConsensusSelector'),
                   mixer=dict(type='ClassMix', include_ignore=True, half='floor',
                              always_paste_ignore=True),
                   target_losses=[dict(type='PseudoLabelCELoss', avg='weights')],
                   aux=dict(prototypes=dict(type='ClassPrototypes', num_classes=NUM_CLASSES,
                                            feat_dim=32, momentum=0.5)))
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_warmup_step_trains_the_student_only():
    model = build()
    data = model.data_preprocessor(uda_batch(), True)
    losses = model.loss(**data)
    assert set(losses) == {'src.decode.loss_ce', 'src.decode.acc_seg', 'src.loss_kd'}
    total = losses['src.decode.loss_ce'] + losses['src.loss_kd']
    total.backward()
    assert all(p.grad is not None for p in model.student.decode_head.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())


def test_warmup_kd_is_the_loss_of_the_two_views():
    """The step's KD equals SymmetricKDLoss on the student's and teacher's logits of
    [x_s; x_mix] (recomputed with the same mixture draw)."""
    model = build()
    model.eval()  # no dropout: the recomputation sees the same networks
    data = model.data_preprocessor(uda_batch(), True)
    torch.manual_seed(5)
    losses = model.loss(**data)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    torch.manual_seed(5)
    views = model.mixture_views(source, target)
    both = torch.cat([source.img, views.mixed])
    s = model.student_forward(both).logits
    t = model.network_outputs(model.teacher, both).logits
    assert torch.isclose(losses['src.loss_kd'], model.distill_loss(s, t))


def test_dg_warmup_takes_plain_source_batches_and_fda_needs_pairs():
    dg = build(translator=None)
    data = dg.data_preprocessor(batch(), True)
    assert 'src.loss_kd' in dg.loss(**data)
    with pytest.raises(ValueError, match='DomainPairDataset'):
        build().loss(**data)


def test_selftrain_step_selects_mixes_and_updates_prototypes():
    model = build('selftrain')
    with pytest.raises(RuntimeError, match='PrototypeInitHook'):
        model.loss(**model.data_preprocessor(uda_batch(), True))
    protos = model.aux['prototypes']
    protos.start_init()
    model.prototype_init_step(model.data_preprocessor(batch(seed=7), False)['inputs'])
    protos.finish_init()
    before = protos.centroids.clone()
    data = model.data_preprocessor(uda_batch(), True)  # target gt_sem_seg = offline labels
    model.record_pseudo_label_stats = True
    losses = model.loss(**data)
    assert {'src.decode.loss_ce', 'src.loss_kd', 'tgt.loss_pl_ce'} <= set(losses)
    assert not torch.equal(before, protos.centroids)  # EMA update from target and source
    assert 0 <= model.pseudo_label_stats['labelled'].sum() <= model.pseudo_label_stats['pixels']
    assert 'aux.prototypes.centroids' in model.state_dict()


def test_selftrain_configuration_errors():
    with pytest.raises(ValueError, match='selector'):
        MODELS.build(dict(type='DiGASegmentor', student=student(), teacher=True,
                          stage='selftrain'))
    with pytest.raises(ValueError, match='teacher=True'):
        MODELS.build(dict(type='DiGASegmentor', student=student()))
    with pytest.raises(ValueError, match='stage'):
        MODELS.build(dict(type='DiGASegmentor', student=student(), teacher=True, stage='st'))


def test_a_head_without_features_is_named():
    model = build()
    model.student.decode_head._forward_feature = None  # as a head without the feature layer
    with pytest.raises(TypeError, match=r'needs a decode head with _forward_feature; ProDAHead '
                       r'has none'):
        model.loss(**model.data_preprocessor(uda_batch(), True))


def test_fda_view_without_target_images_names_the_dg_variant():
    data = build().data_preprocessor(batch(), True)
    with pytest.raises(ValueError, match='translator=None needs none'):
        build().loss(**data)
