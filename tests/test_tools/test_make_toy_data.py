"""tools/make_toy_data.py: deterministic, idempotent, Cityscapes-like layout, imbalanced classes,
a real domain shift, and DAFormer's class statistics; plus the class_stats helpers it uses."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmsfda.datasets.class_stats import compute_class_stats, write_class_stats
from mmsfda.datasets.toy_city import ToyCityDataset
from mmsfda.utils.repo_tools import load_repo_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(seed=3, num_train=6, num_val=2, height=32, width=64, progress=False)


tool = load_repo_tool('make_toy_data')


def tree(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = osp.join(d, n)
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = f.read()
    return out


def read_label(path):
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert label is not None and label.dtype == np.uint8 and label.ndim == 2, path
    return label


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy')
    assert tool.generate(root, **TINY) is not None
    return root


@pytest.fixture(scope='module')
def moderate(tmp_path_factory):
    """60 train images per domain at 64x128: enough for the class frequencies to settle."""
    root = str(tmp_path_factory.mktemp('toy_moderate'))
    meta = tool.generate(root, seed=0, num_train=60, num_val=1, height=64, width=128,
                         progress=False)
    return root, meta


def test_layout_and_file_formats(tiny):
    files = tree(tiny)
    for domain in ('source', 'target'):
        for split, n in (('train', 6), ('val', 2)):
            for i in range(n):
                name = f'{i:05d}.png'
                img = cv2.imread(osp.join(tiny, domain, 'images', split, name),
                                 cv2.IMREAD_UNCHANGED)
                assert img.shape == (32, 64, 3) and img.dtype == np.uint8
                label = read_label(osp.join(tiny, domain, 'labels', split, name))
                assert label.shape == (32, 64)
                assert set(np.unique(label)) <= set(range(10)) | {255}
    assert not [p for p in files if 'tmp' in p]  # no leftover temporary files
    meta = json.loads(files['meta.json'])
    assert meta['classes'] == list(ToyCityDataset.METAINFO['classes'])
    assert (meta['seed'], meta['num_train'], meta['num_val'], meta['height'], meta['width']) == \
        (3, 6, 2, 32, 64)


def test_deterministic_whatever_the_workers(tiny, tmp_path):
    again = str(tmp_path / 'again')
    tool.generate(again, **TINY)
    first = tree(tiny)
    assert tree(again) == first
    parallel = str(tmp_path / 'parallel')
    tool.generate(parallel, workers=2, **TINY)
    assert tree(parallel) == first
    other = str(tmp_path / 'other_seed')
    tool.generate(other, **dict(TINY, seed=4))
    second = tree(other)
    assert second.keys() == first.keys()
    assert second['source/images/train/00000.png'] != first['source/images/train/00000.png']


def test_idempotent_and_regenerates_unfinished_output(tmp_path, capsys):
    root = str(tmp_path / 'toy')
    args = ['--out', root, '--seed', '3', '--num-train', '6', '--num-val', '2', '--height', '32',
            '--width', '64', '--no-progress']
    assert tool.main(args) == 0
    out = capsys.readouterr().out
    assert 'traffic sign' in out and 'wrote 16 images' in out
    complete = tree(root)
    meta_mtime = os.stat(osp.join(root, 'meta.json')).st_mtime_ns

    assert tool.main(args) == 0
    assert 'already holds complete toy data' in capsys.readouterr().out
    assert os.stat(osp.join(root, 'meta.json')).st_mtime_ns == meta_mtime

    # a run killed half-way: a missing image, or no meta.json, means regenerate
    os.remove(osp.join(root, 'target', 'images', 'val', '00001.png'))
    assert tool.generate(root, **TINY) is not None
    assert tree(root) == complete
    os.remove(osp.join(root, 'meta.json'))
    with open(osp.join(root, 'source', 'labels', 'train', '00002.png'), 'wb') as f:
        f.write(b'half a file')
    assert tool.generate(root, **TINY) is not None
    assert tree(root) == complete

    # other parameters regenerate and drop the files the smaller set no longer has
    assert tool.generate(root, **dict(TINY, num_train=4)) is not None
    assert not osp.exists(osp.join(root, 'source', 'images', 'train', '00005.png'))
    assert not osp.exists(osp.join(root, 'target', 'labels', 'train', '00004.png'))
    assert json.load(open(osp.join(root, 'meta.json')))['num_train'] == 4


def test_class_stats_json_matches_label_files(tiny):
    for domain in ('source', 'target'):
        droot = osp.join(tiny, domain)
        with open(osp.join(droot, 'sample_class_stats.json')) as f:
            stats = json.load(f)
        with open(osp.join(droot, 'samples_with_class.json')) as f:
            with_class = json.load(f)
        assert [s['file'] for s in stats] == [f'labels/train/{i:05d}.png' for i in range(6)]
        want_with_class = {}
        for s in stats:
            counts = np.bincount(read_label(osp.join(droot, s['file'])).ravel(), minlength=256)
            want = {str(c): int(counts[c]) for c in range(10) if counts[c]}
            assert {k: v for k, v in s.items() if k != 'file'} == want
            for c, n in want.items():
                want_with_class.setdefault(c, []).append([s['file'], n])
        assert with_class == want_with_class


def test_domains_differ_but_share_the_layout(moderate):
    root, _ = moderate
    names = list(ToyCityDataset.METAINFO['classes'])

    def class_stats(domain):
        hue = np.zeros(10, complex)  # saturation-weighted mean hue, as a complex number
        rows = np.zeros((10, 64))  # where each class appears, by image row
        for i in range(60):
            img = cv2.imread(osp.join(root, domain, 'images', 'train', f'{i:05d}.png'))
            label = read_label(osp.join(root, domain, 'labels', 'train', f'{i:05d}.png'))
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL).astype(np.float32)
            z = hsv[..., 1] / 255 * np.exp(2j * np.pi * hsv[..., 0] / 256)
            for c in range(10):
                m = label == c
                hue[c] += z[m].sum()
                rows[c] += m.sum(1)
        return np.angle(hue, deg=True), rows / rows.sum(1, keepdims=True)

    src_hue, src_rows = class_stats('source')
    tgt_hue, tgt_rows = class_stats('target')
    # a palette shift: the colourful stuff classes change hue (weather and blur alone move these
    # by less than 5 degrees)
    hue_shift = (tgt_hue - src_hue + 180) % 360 - 180
    for name in ('sidewalk', 'building', 'vegetation', 'terrain', 'sky'):
        assert abs(hue_shift[names.index(name)]) > 10, (name, hue_shift)
    # same geometry priors: each class sits at about the same image rows in both domains
    row = np.arange(64)
    centre_shift = np.abs((src_rows * row).sum(1) - (tgt_rows * row).sum(1))
    assert centre_shift.max() < 6, centre_shift
    sky, road = names.index('sky'), names.index('road')
    assert (src_rows[sky] * row).sum() < 20 and (src_rows[road] * row).sum() > 40


def test_target_is_blurred_and_noisy(moderate):
    root, _ = moderate
    laplace = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)

    def measure(domain):
        noise, step = [], []
        for i in range(20):
            img = cv2.imread(osp.join(root, domain, 'images', 'train', f'{i:05d}.png'))
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
            label = read_label(osp.join(root, domain, 'labels', 'train', f'{i:05d}.png'))
            # pixel noise in the sky (smooth in the source): median response of a filter blind to
            # flat and linear shading
            sky = cv2.erode((label == 7).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            if sky.sum() > 10:
                noise.append(np.median(np.abs(cv2.filter2D(gray, -1, laplace))[sky]))
            # sharpness: the grey-level step between horizontally adjacent pixels of two classes
            edge = (label[:, 1:] != label[:, :-1]) & (label[:, 1:] != 255) & (label[:, :-1] != 255)
            step.append(np.median(np.abs(np.diff(gray, axis=1))[edge]))
        return np.mean(noise), np.mean(step)

    src_noise, src_step = measure('source')
    tgt_noise, tgt_step = measure('target')
    assert tgt_noise > 2 * src_noise, (src_noise, tgt_noise)
    assert tgt_step < 0.5 * src_step, (src_step, tgt_step)


def test_class_frequencies_are_imbalanced(moderate):
    _, meta = moderate
    names = list(ToyCityDataset.METAINFO['classes'])
    for domain in ('source', 'target'):
        pct = meta['class_pixel_percent'][domain]
        assert sum(pct.values()) == pytest.approx(100, abs=0.01)
        assert sum(pct[n] > 0 for n in names) == 10  # all 10 classes occur
        for rare in ('person', 'traffic sign'):
            assert 0.05 < pct[rare] < 2.0, (domain, rare, pct[rare])
        assert pct['pole'] < 3.0
        assert pct['road'] > 20 and pct['building'] > 10
        assert pct['road'] > 20 * pct['traffic sign']  # imbalance of at least 20:1
        assert 0.5 < pct['ignore'] < 8
    src, tgt = meta['class_pixel_percent']['source'], meta['class_pixel_percent']['target']
    assert tgt['car'] > src['car'] and tgt['vegetation'] > src['vegetation']


def test_compute_class_stats():
    label = np.array([[0, 0, 2], [255, 2, 2]], np.uint8)
    assert compute_class_stats(label, 3) == {0: 2, 2: 3}
    assert list(compute_class_stats(label[::-1], 3)) == [0, 2]  # in class order
    with pytest.raises(ValueError, match=r'\[3\] are outside \[0, 3\)'):
        compute_class_stats(np.array([[3, 255]], np.uint8), 3)
    with pytest.raises(ValueError, match='integers'):
        compute_class_stats(np.zeros((2, 2), np.float32), 3)
    assert compute_class_stats(np.array([[1, 7]], np.int64), 3, ignore_index=7) == {1: 1}


def test_write_class_stats(tmp_path):
    records = [{'file': 'b.png', 2: 5, 0: 1}, {'file': 'a.png', '2': 7}]
    write_class_stats(records, str(tmp_path / 'new'))
    stats = json.load(open(tmp_path / 'new' / 'sample_class_stats.json'))
    assert stats == [{'file': 'b.png', '0': 1, '2': 5}, {'file': 'a.png', '2': 7}]
    with_class = json.load(open(tmp_path / 'new' / 'samples_with_class.json'))
    assert with_class == {'0': [['b.png', 1]], '2': [['b.png', 5], ['a.png', 7]]}
    assert sorted(os.listdir(tmp_path / 'new')) == ['sample_class_stats.json',
                                                    'samples_with_class.json']
    with pytest.raises(KeyError, match='file'):
        write_class_stats([{0: 3}], str(tmp_path))


# ------------------------------------------------------------------------------ target shifts
SHIFT_TINY = dict(seed=3, num_train=6, num_val=2, height=32, width=64, progress=False)
SHIFT_KINDS = [k for k in tool.SHIFTS if k != 'default']


@pytest.fixture(scope='module')
def shifted(tmp_path_factory):
    """{(kind, severity): root} of every shift kind at every severity, plus the default."""
    base = tmp_path_factory.mktemp('shifts')
    roots = {('default', None): str(base / 'default')}
    tool.generate(roots[('default', None)], **SHIFT_TINY)
    for kind in SHIFT_KINDS:
        for severity in tool.SEVERITIES:
            roots[kind, severity] = str(base / f'{kind}-{severity}')
            meta = tool.generate(roots[kind, severity], shift=kind, severity=severity,
                                 **SHIFT_TINY)
            assert (meta['shift'], meta['severity']) == (kind, severity)
    return roots


def _features(root, domain):
    """Pixel and layout statistics of a domain's train split, as one vector.

    Per-channel colour histograms and a histogram of horizontal grey-level steps (texture, blur,
    noise, block artefacts), plus the class histogram of each cell of a 4x8 grid (where classes
    sit: what geometry shifts move). Each part sums to 1 per histogram.
    """
    imgs = np.stack([cv2.imread(osp.join(root, domain, 'images', 'train', f'{i:05d}.png'))
                     for i in range(6)]).astype(np.float32)
    labels = np.stack([read_label(osp.join(root, domain, 'labels', 'train', f'{i:05d}.png'))
                       for i in range(6)])
    parts = [np.histogram(imgs[..., c], 32, (0, 256))[0] / imgs[..., c].size for c in range(3)]
    steps = np.abs(np.diff(imgs.mean(-1), axis=2))
    parts.append(np.histogram(steps, 32, (0, 128))[0] / steps.size)
    n, h, w = labels.shape
    ids = np.where(labels == 255, 10, labels)
    for gy in range(4):
        for gx in range(8):
            cell = ids[:, gy * h // 4:(gy + 1) * h // 4, gx * w // 8:(gx + 1) * w // 8]
            parts.append(np.bincount(cell.ravel(), minlength=11) / cell.size / 32)
    return np.concatenate(parts)


def test_every_shift_writes_a_valid_dataset(shifted):
    default_tree = tree(shifted[('default', None)])
    for (kind, severity), root in shifted.items():
        meta = json.load(open(osp.join(root, 'meta.json')))
        assert meta['target_shift'] == tool.SHIFTS[kind]
        for split, n in (('train', 6), ('val', 2)):
            for i in range(n):
                img = cv2.imread(osp.join(root, 'target', 'images', split, f'{i:05d}.png'))
                label = read_label(osp.join(root, 'target', 'labels', split, f'{i:05d}.png'))
                assert img.shape == (32, 64, 3) and label.shape == (32, 64)
                assert set(np.unique(label)) <= set(range(10)) | {255}, (kind, severity)
        # the source domain is the same for every shift
        src = {k: v for k, v in tree(root).items() if k.startswith('source')}
        assert src == {k: v for k, v in default_tree.items() if k.startswith('source')}
    # only geometry moves the labels; the other kinds keep the target scenes' labels
    labels = {k: v for k, v in tree(shifted[('night', 1)]).items() if k.startswith('target/labels')}
    for kind in ('fog', 'sensor', 'jpeg', 'colour'):
        assert labels == {k: v for k, v in tree(shifted[(kind, 3)]).items()
                          if k.startswith('target/labels')}, kind
    geo = {k: v for k, v in tree(shifted[('geometry', 2)]).items() if k.startswith('target/labels')}
    assert geo.keys() == labels.keys() and geo != labels


def test_severity_increases_the_distance_to_the_source(shifted):
    source = _features(shifted[('default', None)], 'source')
    for kind in SHIFT_KINDS:
        d = [np.abs(_features(shifted[kind, s], 'target') - source).sum() for s in tool.SEVERITIES]
        assert d[0] < d[1] < d[2], (kind, d)


def test_shifts_are_deterministic_and_checked(shifted, tmp_path):
    again = str(tmp_path / 'sensor-2')
    tool.generate(again, shift='sensor', severity=2, workers=2, **SHIFT_TINY)
    assert tree(again) == tree(shifted[('sensor', 2)])
    with pytest.raises(ValueError, match='unknown target shift'):
        tool.generate(str(tmp_path / 'x'), shift='snowstorm', **SHIFT_TINY)
    with pytest.raises(ValueError, match='no severity'):
        tool.generate(str(tmp_path / 'x'), shift='default', severity=2, **SHIFT_TINY)
    with pytest.raises(ValueError, match='must be one of'):
        tool.generate(str(tmp_path / 'x'), shift='fog', severity=4, **SHIFT_TINY)
    # another shift in the same folder regenerates the target
    assert tool.generate(again, shift='sensor', severity=3, **SHIFT_TINY) is not None
    assert tree(again) == tree(shifted[('sensor', 3)])


def test_default_shift_reads_meta_written_before_shifts(tmp_path):
    root = str(tmp_path / 'old')
    tool.generate(root, **SHIFT_TINY)
    meta_path = osp.join(root, 'meta.json')
    meta = json.load(open(meta_path))
    del meta['shift'], meta['severity']
    json.dump(meta, open(meta_path, 'w'))
    assert tool.generate(root, **SHIFT_TINY) is None  # same default pixels: nothing to redo
    assert tool.generate(root, shift='jpeg', **SHIFT_TINY) is not None
