"""LoadPseudoLabels + PackSegInputsWithWeights: the round's files reach the segmentor intact."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from mmsfda.datasets.pseudo_label_files import write_pseudo_label

H, W = 6, 8


def write_round(tmp_path, weights=None):
    labels = torch.arange(H * W).view(H, W) % 5
    labels[0, :3] = 255
    if weights is None:
        weights = torch.linspace(0, 1, H * W).view(H, W)
    weights = weights * (labels != 255)
    write_pseudo_label(str(tmp_path), '/data/images/train/a_b.png', labels, weights)
    return labels, weights


def results(img_path='/data/images/train/a_b.png'):
    return dict(img=np.zeros((H, W, 3), np.uint8), img_path=img_path, ori_shape=(H, W),
                img_shape=(H, W), seg_fields=[])


def test_files_round_trip_with_documented_quantisation(tmp_path):
    labels, weights = write_round(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a_b.png', 'a_b_weight.png']
    pipeline = Compose([dict(type='LoadPseudoLabels', label_dir=str(tmp_path)),
                        dict(type='PackSegInputsWithWeights')])
    sample = pipeline(results())['data_samples']
    assert torch.equal(sample.gt_sem_seg.data, labels[None])
    got = sample.pseudo_weight.data
    assert got.dtype == torch.float32 and got.shape == (1, H, W)
    assert (got - weights[None]).abs().max() <= 1 / 510 + 1e-7
    assert torch.all(got[labels[None] == 255] == 0)


@pytest.mark.parametrize('transform', [
    dict(type='RandomFlip', prob=1.0, direction='horizontal'),
    dict(type='RandomFlip', prob=1.0, direction='vertical'),
    dict(type='Resize', scale=(2 * W, 3 * H)),
    dict(type='RandomCrop', crop_size=(4, 5)),
])
def test_label_and_weight_move_together(tmp_path, transform):
    # Weight = 1 exactly where a pixel of class 3 is, so the two maps must stay aligned.
    labels = torch.arange(H * W).view(H, W) % 5
    write_pseudo_label(str(tmp_path), 'x.png', labels, (labels == 3).float())
    pipeline = Compose([dict(type='LoadPseudoLabels', label_dir=str(tmp_path)), transform,
                        dict(type='PackSegInputsWithWeights')])
    sample = pipeline(results('x.png'))['data_samples']
    label, weight = sample.gt_sem_seg.data[0], sample.pseudo_weight.data[0]
    assert label.shape == weight.shape
    assert torch.equal(weight == 1, label == 3)
    if transform['type'] == 'RandomFlip':
        axis = 1 if transform['direction'] == 'horizontal' else 0
        assert torch.equal(label, labels.flip(axis))


def test_without_weight_file(tmp_path):
    labels, _ = write_round(tmp_path)
    (tmp_path / 'a_b_weight.png').unlink()
    out = Compose([dict(type='LoadPseudoLabels', label_dir=str(tmp_path), with_weight=False),
                   dict(type='PackSegInputsWithWeights')])(results())
    assert 'pseudo_weight' not in out['data_samples']
    assert torch.equal(out['data_samples'].gt_sem_seg.data[0], labels)


def test_errors_name_the_file(tmp_path):
    from mmseg.registry import TRANSFORMS
    with pytest.raises(RuntimeError, match='no label_dir'):
        TRANSFORMS.build(dict(type='LoadPseudoLabels'))(results())
    load = TRANSFORMS.build(dict(type='LoadPseudoLabels', label_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match='a_b.png'):
        load(results())
    write_round(tmp_path)
    with pytest.raises(ValueError, match='has size'):
        load(dict(results(), ori_shape=(H + 1, W)))
    out = load(results())
    out['pseudo_weight'] = out['pseudo_weight'][:-1]
    with pytest.raises(ValueError, match='moved only one'):
        TRANSFORMS.build(dict(type='PackSegInputsWithWeights'))(out)


def test_writer_and_reader_agree(tmp_path):
    from mmsfda.datasets.pseudo_label_files import has_pseudo_label, read_pseudo_label
    assert not has_pseudo_label(str(tmp_path), '/data/images/train/a_b.png')
    labels, weights = write_round(tmp_path)
    assert has_pseudo_label(str(tmp_path), '/data/images/train/a_b.png')
    got_labels, got_weights = read_pseudo_label(str(tmp_path), '/elsewhere/a_b.jpg')
    assert torch.equal(got_labels, labels)
    assert (got_weights - weights).abs().max() <= 1 / 510 + 1e-7
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]


def test_unique_stems_are_required():
    from mmsfda.datasets.pseudo_label_files import check_unique_stems
    check_unique_stems(['a/x.png', 'b/y.png'])
    with pytest.raises(ValueError, match=r"several images named \['x'\]"):
        check_unique_stems(['a/x.png', 'b/x.jpg'])
    with pytest.raises(ValueError, match='overwrite the weight files'):
        check_unique_stems(['a/x.png', 'a/x_weight.png'])


def test_clear_directory_removes_only_label_files(tmp_path):
    from mmsfda.datasets.pseudo_label_files import clear_directory, write_json
    write_round(tmp_path)
    write_json(str(tmp_path / 'manifest.json'), dict(hash='x'))
    (tmp_path / '.tmp-abc.png').write_bytes(b'half')
    (tmp_path / 'notes.txt').write_text('mine')
    assert clear_directory(str(tmp_path)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ['notes.txt']
