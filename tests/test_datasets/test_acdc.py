"""ACDCDataset on a tiny ACDC layout as distributed (docs/datasets.md): conditions and splits, the
labels it loads, and the errors of a wrong layout, unconverted labels, the private test labels and
a split file of another condition."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

SHAPE = (32, 64)
SEQUENCES = {'fog': 'GOPR0475', 'night': 'GOPR0351', 'rain': 'GOPR0400', 'snow': 'GOPR0122'}
# Cityscapes label id -> train id, written out again so that a wrong map elsewhere fails a test.
CS_ID_TO_TRAIN = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}


def train_ids_of(label_ids):
    out = np.full(label_ids.shape, 255, np.uint8)
    for k, v in CS_ID_TO_TRAIN.items():
        out[label_ids == k] = v
    return out


def write_acdc(root, conditions=('fog', 'night'), splits=('train', 'val', 'test'), num=2,
               train_ids=True, shape=SHAPE, seed=0):
    """ACDC's layout with ``num`` frames of ``shape`` (h, w) per condition and split:
    ``rgb_anon/<c>/<split>/<seq>/<seq>_frame_<i>_rgb_anon.png`` and, except for test, the label
    ids ``gt/<c>/<split>/<seq>/<seq>_frame_<i>_gt_labelIds.png`` (Cityscapes ids, some of them
    void) and, with ``train_ids``, the ``*_gt_labelTrainIds.png`` ACDC ships beside them.

    Returns:
        dict: ``'<c>/<split>/<seq>/<name>'`` (relative to rgb_anon) -> expected train ids [H, W].
    """
    rng = np.random.default_rng(seed)
    expected = {}
    for c in conditions:
        seq = SEQUENCES[c]
        for split in splits:
            img_dir = osp.join(root, 'rgb_anon', c, split, seq)
            os.makedirs(img_dir, exist_ok=True)
            for i in range(num):
                name = f'{seq}_frame_{i:06d}'
                cv2.imwrite(osp.join(img_dir, name + '_rgb_anon.png'),
                            rng.integers(0, 256, (*shape, 3), np.uint8))
                if split == 'test':
                    continue
                gt_dir = osp.join(root, 'gt', c, split, seq)
                os.makedirs(gt_dir, exist_ok=True)
                ids = rng.choice([0, 1, 7, 8, 11, 21, 23, 24, 26, 33], size=shape).astype(np.uint8)
                cv2.imwrite(osp.join(gt_dir, name + '_gt_labelIds.png'), ids)
                if train_ids:
                    cv2.imwrite(osp.join(gt_dir, name + '_gt_labelTrainIds.png'),
                                train_ids_of(ids))
                expected[f'{c}/{split}/{seq}/{name}'] = train_ids_of(ids)
    return expected


def build(root, **kwargs):
    return DATASETS.build(dict(type='ACDCDataset', data_root=root, **kwargs))


@pytest.fixture
def acdc(tmp_path):
    root = str(tmp_path / 'acdc')
    return root, write_acdc(root)


LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


def test_one_condition_loads_its_val_split_with_train_ids(acdc):
    root, expected = acdc
    ds = build(root, conditions='night', split='val', pipeline=LOAD)
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert len(ds) == 2
    for i in range(len(ds)):
        sample = ds[i]
        rel = osp.relpath(sample['img_path'], osp.join(root, 'rgb_anon'))
        assert rel.startswith('night/val/GOPR0351/') and rel.endswith('_rgb_anon.png')
        assert sample['seg_map_path'] == osp.join(
            root, 'gt', rel[:-len('_rgb_anon.png')] + '_gt_labelTrainIds.png')
        assert sample['img'].shape == (*SHAPE, 3)
        np.testing.assert_array_equal(sample['gt_seg_map'],
                                      expected[rel[:-len('_rgb_anon.png')]])


def test_several_conditions_unlabelled_train_and_test(acdc):
    root, _ = acdc
    ds = build(root, conditions=('night', 'fog'), split='train',
               data_prefix=dict(img_path='rgb_anon'), pipeline=[])
    assert len(ds) == 4 and all('seg_map_path' not in ds.get_data_info(i) for i in range(4))
    assert {ds.get_data_info(i)['img_path'].split(os.sep)[-4] for i in range(4)} == {'night',
                                                                                     'fog'}
    test = build(root, conditions='fog', split='test', data_prefix=dict(img_path='rgb_anon'),
                 pipeline=[])
    assert len(test) == 2
    with pytest.raises(ValueError, match="test labels are not public.*split='val'"):
        build(root, conditions='fog', split='test', pipeline=[])
    with pytest.raises(ValueError, match='conditions must be some of'):
        build(root, conditions='dusk', pipeline=[])


def test_missing_folders_are_named_with_what_to_download(acdc):
    root, _ = acdc
    shutil.rmtree(osp.join(root, 'gt', 'night', 'val'))
    with pytest.raises(FileNotFoundError) as err:
        build(root, conditions='night', split='val', pipeline=[])
    msg = str(err.value)
    assert f'ACDCDataset: label folder {root}/gt/night/val does not exist' in msg
    assert 'gt_trainval.zip' in msg and 'https://acdc.vision.ee.ethz.ch' in msg
    # the default: all four conditions; only fog and night were unpacked
    with pytest.raises(FileNotFoundError, match=f'image folder {root}/rgb_anon/rain/train does '
                                                'not exist.*rgb_anon_trainvaltest.zip'):
        build(root, data_prefix=dict(img_path='rgb_anon'), pipeline=[])


def test_label_ids_only_name_the_converter(tmp_path):
    root = str(tmp_path / 'acdc')
    write_acdc(root, conditions=('night', ), splits=('val', ), train_ids=False)
    with pytest.raises(FileNotFoundError) as err:
        build(root, conditions='night', split='val', pipeline=[])
    msg = str(err.value)
    assert f'2 of 2 label files (*_gt_labelTrainIds.png) are missing under {root}/gt/night/val' \
        in msg
    assert f'python tools/dataset_converters/acdc.py {root} --nproc 8' in msg


def test_split_file_of_another_condition_is_refused(acdc, tmp_path):
    root, expected = acdc
    split = tmp_path / 'easy_split.txt'
    split.write_text(''.join(k + '\n' for k in expected if k.startswith('night/train/')))
    ds = build(root, conditions='night', split='train', data_prefix=dict(img_path='rgb_anon'),
               ann_file=str(split), pipeline=[])
    assert len(ds) == 2
    with pytest.raises(ValueError, match='lists 2 images outside .*other conditions'):
        build(root, conditions='fog', split='train', data_prefix=dict(img_path='rgb_anon'),
              ann_file=str(split), pipeline=[])
