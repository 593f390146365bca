"""CheckedLoadImageFromFile / CheckedLoadAnnotations: same results as mmcv/mmseg on good files,
errors that name the file on bad ones."""
import cv2
import numpy as np
import pytest
from PIL import Image

import mmsfda  # noqa: F401  (registers the transforms)
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


def write_png(path, array):
    assert cv2.imwrite(str(path), array)
    return str(path)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    label = rng.integers(0, 4, (6, 8), dtype=np.uint8)
    label[0, 0] = 255
    return dict(img=write_png(tmp_path / 'img.png', img), img_array=img,
                label=write_png(tmp_path / 'label.png', label), label_array=label,
                dir=tmp_path)


def load_label(path, img_path='img.png', **kwargs):
    t = TRANSFORMS.build(dict(type='CheckedLoadAnnotations', **kwargs))
    results = dict(seg_map_path=path, img_path=img_path, seg_fields=[], reduce_zero_label=False)
    return t(results)


def test_image_loads_like_mmcv(files):
    t = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', to_float32=True))
    out = t(dict(img_path=files['img']))
    np.testing.assert_array_equal(out['img'], files['img_array'].astype(np.float32))
    assert out['img_shape'] == out['ori_shape'] == (6, 8)
    assert out['img'].dtype == np.float32


def test_missing_image_names_path(tmp_path):
    path = str(tmp_path / 'nope' / 'missing.png')
    t = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))
    with pytest.raises(FileNotFoundError, match='image file not found: .*missing.png'):
        t(dict(img_path=path))
    # ignore_empty keeps mmcv's meaning: the sample is dropped
    t = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', ignore_empty=True))
    assert t(dict(img_path=path)) is None


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('content', ['garbage', 'truncated', 'empty'])
def test_corrupt_image_names_path(files, tmp_path, backend, content):
    good = open(files['img'], 'rb').read()
    data = dict(garbage=b'this is not a png' * 20, truncated=good[:len(good) // 2], empty=b'')
    path = tmp_path / f'bad_{content}.png'
    path.write_bytes(data[content])
    t = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', imdecode_backend=backend))
    with pytest.raises(ValueError, match=f'cannot decode image file .*bad_{content}.png'):
        t(dict(img_path=str(path)))


def test_label_loads_like_mmseg(files):
    out = load_label(files['label'], num_classes=4)
    np.testing.assert_array_equal(out['gt_seg_map'], files['label_array'])
    assert out['seg_fields'] == ['gt_seg_map']
    # same result as mmseg's transform with reduce_zero_label and a label map
    for reduce, label_map in ((True, None), (False, {1: 0, 2: 255, 3: 1})):
        results = dict(seg_map_path=files['label'], seg_fields=[], reduce_zero_label=reduce,
                       label_map=label_map)
        want = LoadAnnotations()(dict(results, seg_fields=[]))['gt_seg_map']
        got = TRANSFORMS.build(dict(type='CheckedLoadAnnotations'))(
            dict(results, seg_fields=[]))['gt_seg_map']
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype == np.uint8


def test_palettised_label_loads_indices(files, tmp_path):
    label = files['label_array']
    p = Image.fromarray(label, mode='P')
    p.putpalette(np.random.default_rng(1).integers(0, 256, 768).tolist())
    p.save(tmp_path / 'p.png')
    out = load_label(str(tmp_path / 'p.png'), num_classes=4)
    np.testing.assert_array_equal(out['gt_seg_map'], label)


def test_label_value_out_of_range_names_file_values_and_range(files, tmp_path):
    label = files['label_array'].copy()
    label[1, 1], label[2, 2], label[3, 3] = 7, 19, 19
    path = write_png(tmp_path / 'bad_label.png', label)
    with pytest.raises(ValueError) as e:
        load_label(path, img_path='the_image.png', num_classes=4)
    msg = str(e.value)
    assert 'bad_label.png' in msg and 'the_image.png' in msg
    assert '7 (1 px)' in msg and '19 (2 px)' in msg
    assert '[0, 4)' in msg
    # 255 alone is fine, and so is anything without num_classes
    load_label(files['label'], num_classes=4)
    out = load_label(path)
    assert out['gt_seg_map'][2, 2] == 19
    # the boundary: value 4 is out of range for 4 classes, in range for 5
    label = files['label_array'].copy()
    label[0, 1] = 4
    path = write_png(tmp_path / 'four.png', label)
    with pytest.raises(ValueError, match=r'4 \(1 px\)'):
        load_label(path, num_classes=4)
    load_label(path, num_classes=5)


def test_check_applies_after_reduce_zero_label(files, tmp_path):
    # raw ids 1..4 become 0..3 with reduce_zero_label: fine for 4 classes; raw 0 becomes 255
    label = files['label_array'].copy() + 1
    label[0, 0] = 0
    path = write_png(tmp_path / 'ade_style.png', label)
    t = TRANSFORMS.build(dict(type='CheckedLoadAnnotations', num_classes=4))
    out = t(dict(seg_map_path=path, seg_fields=[], reduce_zero_label=True))
    assert out['gt_seg_map'].max() == 255 and set(np.unique(out['gt_seg_map'])) <= {0, 1, 2, 3, 255}


def test_missing_label_names_label_and_image(files, tmp_path):
    path = str(tmp_path / 'labels' / 'gone.png')
    with pytest.raises(FileNotFoundError, match='label file not found: .*gone.png'):
        load_label(path, num_classes=4)


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_corrupt_label_names_file(files, tmp_path, backend):
    path = tmp_path / 'corrupt_label.png'
    path.write_bytes(open(files['label'], 'rb').read()[:40])
    with pytest.raises(ValueError, match='cannot decode label file .*corrupt_label.png'):
        load_label(str(path), num_classes=4, imdecode_backend=backend)


def test_colour_label_is_rejected(files, tmp_path):
    path = write_png(tmp_path / 'rgb_label.png', files['img_array'])
    with pytest.raises(ValueError, match='rgb_label.png.*one channel'):
        load_label(path, num_classes=4)


def test_label_size_must_match_image(files, tmp_path):
    path = write_png(tmp_path / 'small_label.png', files['label_array'][:5])
    t = TRANSFORMS.build(dict(type='CheckedLoadAnnotations', num_classes=4))
    results = dict(seg_map_path=path, img_path=files['img'], seg_fields=[],
                   reduce_zero_label=False, ori_shape=(6, 8))
    with pytest.raises(ValueError, match=r'small_label.png has size \(5, 8\).*\(6, 8\)'):
        t(results)
    t = TRANSFORMS.build(dict(type='CheckedLoadAnnotations', num_classes=4, check_shape=False))
    assert t(dict(results, seg_fields=[]))['gt_seg_map'].shape == (5, 8)


def test_bad_num_classes_rejected():
    with pytest.raises(ValueError, match='num_classes'):
        TRANSFORMS.build(dict(type='CheckedLoadAnnotations', num_classes=0))
    assert 'num_classes=3' in repr(TRANSFORMS.build(dict(type='CheckedLoadAnnotations',
                                                         num_classes=3)))
