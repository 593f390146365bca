"""FDASegmentor (source images in the target's style) and EnsembleSegmentor (FDA-MBT averaging)."""
import pytest
import torch
from mmseg.registry import MODELS

from conftest import REPO
from test_models.test_segmentors import adaptation_models as am
from mmsfda.models.augmentations import fda_swap


def test_fda_segmentor_translates_the_source_batch():
    model = MODELS.build(dict(type='FDASegmentor', setting='uda', student=am.student_cfg(REPO),
                              style_transfer=dict(type='FDA', beta=0.1),
                              target_losses=[dict(type='EntropyLoss', normalize=True, eta=2.0,
                                                  loss_weight=0.005)]))
    model.init_weights()
    data = model.data_preprocessor(am.uda_batch(), True)
    source, target = model.split_batch(data['inputs'], data['data_samples'])
    mean = model.data_preprocessor.mean.view(1, -1, 1, 1)
    std = model.data_preprocessor.std.view(1, -1, 1, 1)
    raw = fda_swap(data['inputs']['source'] * std + mean, data['inputs']['target'] * std + mean,
                   0.1)
    assert torch.allclose(source.img, (raw - mean) / std, atol=1e-4)
    assert torch.equal(target.img, data['inputs']['target'])
    losses = model(**data, mode='loss')
    assert {'src.decode.loss_ce', 'tgt.loss_entropy'} <= set(losses)
    with pytest.raises(ValueError, match='uda'):
        MODELS.build(dict(type='FDASegmentor', student=am.student_cfg(REPO),
                          style_transfer=dict(type='FDA')))


def test_mixing_needs_equal_batches():
    model = MODELS.build(am.dacs_cfg(REPO))
    model.init_weights()
    data = dict(source=am.batch(n=2, seed=1), target=am.batch(n=3, seed=2))
    data = model.data_preprocessor(data, True)
    with pytest.raises(ValueError, match='source batch has 2 images and the target batch 3'):
        model(**data, mode='loss')


def test_ensemble_averages_probabilities(tmp_path):
    torch.manual_seed(0)
    members = [MODELS.build(am.student_cfg(REPO)) for _ in range(2)]
    paths = []
    for i, m in enumerate(members):
        m.init_weights()
        with torch.no_grad():
            m.decode_head.aspp[0].bias[i] += 3.0  # the members disagree
        # A checkpoint of a self-training run: its student is the member.
        state = {f'student.{k}': v for k, v in m.state_dict().items()}
        paths.append(str(tmp_path / f'm{i}.pth'))
        torch.save(dict(meta={}, state_dict=state), paths[-1])
    ens = MODELS.build(dict(type='EnsembleSegmentor', members=[am.student_cfg(REPO)] * 2,
                            checkpoints=paths,
                            pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.0)))
    ens.init_weights()
    ens.eval()
    data = ens.data_preprocessor(am.batch(with_gt=False), False)
    img = data['inputs']
    with torch.no_grad():
        expected = torch.stack([torch.nn.functional.interpolate(
            m.eval()._forward(img), size=img.shape[2:], mode='bilinear').softmax(1)
            for m in members]).mean(0)
        probs, ctx = ens.teacher_outputs(img)
        out = ens(**data, mode='predict')
    assert ctx == {} and torch.allclose(probs, expected, atol=1e-5)
    assert torch.equal(out[0].pred_sem_seg.data[0], expected[0].argmax(0))
    assert torch.allclose(out[0].seg_logits.data.softmax(0), expected[0], atol=1e-5)
    with pytest.raises(ValueError, match='2 members but 1 checkpoints'):
        MODELS.build(dict(type='EnsembleSegmentor', members=[am.student_cfg(REPO)] * 2,
                          checkpoints=paths[:1]))
    other = am.student_cfg(REPO)
    other['decode_head']['num_classes'] = am.NUM_CLASSES + 1
    with pytest.raises(ValueError, match='different numbers of classes'):
        MODELS.build(dict(type='EnsembleSegmentor', members=[am.student_cfg(REPO), other]))
