"""GTA5, SYNTHIA and ACDC converters on tiny files in the real raw formats and folder layouts."""
import importlib
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')


@pytest.fixture(scope='module')
def conv():
    """The converter scripts as modules (they import their sibling helper as scripts do)."""
    sys.path.insert(0, CONVERTERS)
    try:
        yield {
            name: importlib.import_module(name)
            for name in ('gta', 'synthia', 'acdc', 'train_id_conversion')
        }
    finally:
        sys.path.remove(CONVERTERS)


# The label maps, written out again here so that a wrong map in the converters fails the tests.
CS_ID_TO_TRAIN = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
SYNTHIA_ID_TO_TRAIN = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9,
    1: 10, 10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}
SYNTHIA_ID_TO_TRAIN16 = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 9,
    10: 10, 17: 11, 8: 12, 19: 13, 12: 14, 11: 15
}


def expected(raw, id_map):
    out = np.full(raw.shape, 255, np.uint8)
    for k, v in id_map.items():
        out[raw == k] = v
    return out


def make_gta(root, n=3, shape=(6, 10), seed=0):
    """images/NNNNN.png (RGB) and labels/NNNNN.png (palettised, Cityscapes ids 0-33 and 34-40)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'labels'))
    palette = rng.integers(0, 256, size=256 * 3).astype(np.uint8).tolist()
    raws = {}
    for i in range(1, n + 1):
        name = f'{i:05d}.png'
        raw = rng.integers(0, 41, size=shape).astype(np.uint8)
        raw.flat[:3] = (7, 33, 34)  # road, bicycle, an unmapped id
        label = Image.fromarray(raw, mode='P')
        label.putpalette(palette)
        label.save(osp.join(root, 'labels', name))
        cv2.imwrite(
            osp.join(root, 'images', name), rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8))
        raws[name] = raw
    return raws


def make_synthia(root, n=3, shape=(6, 10), seed=0):
    """RGB/NNNNNNN.png and GT/LABELS/NNNNNNN.png: 16-bit, class id in R, junk in G and B."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'RGB'))
    os.makedirs(osp.join(root, 'GT', 'LABELS'))
    raws = {}
    for i in range(n):
        name = f'{i:07d}.png'
        raw = rng.integers(0, 23, size=shape).astype(np.uint16)
        raw.flat[:3] = (3, 11, 1000)  # road, bicycle, an unmapped 16-bit id
        bgr = np.stack(
            [
                rng.integers(0, 65536, size=shape),  # B: junk
                np.full(shape, 3),  # G: the instance id; 3 would be road if read as a class
                raw
            ],
            axis=-1).astype(np.uint16)
        cv2.imwrite(osp.join(root, 'GT', 'LABELS', name), bgr)
        cv2.imwrite(
            osp.join(root, 'RGB', name), rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8))
        raws[name] = raw
    return raws


def read(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint8 and img.ndim == 2, path
    return img


def check_stats(out_dir, root, label_subdir, names, num_classes, remap=None):
    """The two DAFormer JSON files equal the pixel counts of the written label files.

    Files are named relative to the dataset root, wherever the converter ran.
    """
    with open(osp.join(out_dir, 'sample_class_stats.json')) as f:
        stats = json.load(f)
    with open(osp.join(out_dir, 'samples_with_class.json')) as f:
        with_class = json.load(f)
    files = [osp.join(label_subdir, n[:-4] + '_labelTrainIds.png') for n in sorted(names)]
    assert [s['file'] for s in stats] == files
    want_with_class = {}
    for s in stats:
        ids = read(osp.join(root, s['file']))
        ids = ids if remap is None else remap[ids]
        counts = np.bincount(ids.ravel(), minlength=256)
        want = {str(c): int(counts[c]) for c in range(num_classes) if counts[c]}
        assert {k: v for k, v in s.items() if k != 'file'} == want
        for c, n in want.items():
            want_with_class.setdefault(c, []).append([s['file'], n])
    assert with_class == want_with_class
    return stats


def test_gta_converts_ids_and_writes_stats(conv, tmp_path):
    root = str(tmp_path / 'gta')
    raws = make_gta(root)
    conv['gta'].main([root, '--nproc', '1'])
    for name, raw in raws.items():
        out_path = osp.join(root, 'labels', name[:-4] + '_labelTrainIds.png')
        out = read(out_path)
        # written like any file (mkstemp's 0600 would hide labels from other users)
        raw_mode = os.stat(osp.join(root, 'labels', name)).st_mode
        assert os.stat(out_path).st_mode & 0o777 == raw_mode & 0o777
        assert out.flat[0] == 0 and out.flat[1] == 18 and out.flat[2] == 255
        np.testing.assert_array_equal(out, expected(raw, CS_ID_TO_TRAIN))
    stats = check_stats(root, root, 'labels', raws, 19)
    assert stats[0]['0'] >= 1 and stats[0]['18'] >= 1


def test_gta_rejects_rgb_and_unreadable_labels(conv, tmp_path):
    root = str(tmp_path / 'gta')
    make_gta(root, n=2)
    bad = osp.join(root, 'labels', '00002.png')
    cv2.imwrite(bad, np.zeros((6, 10, 3), np.uint8) + 7)  # a colour rendering, not ids
    with pytest.raises(ValueError, match=r'00002\.png.*mode RGB'):
        conv['gta'].main([root, '--nproc', '1'])
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\nnot really')
    with pytest.raises(ValueError, match=r'cannot read GTA5 label .*00002\.png'):
        conv['gta'].main([root, '--nproc', '1'])


def test_missing_image_or_label_is_named(conv, tmp_path):
    root = str(tmp_path / 'gta')
    make_gta(root, n=3)
    os.remove(osp.join(root, 'images', '00002.png'))
    with pytest.raises(FileNotFoundError, match=r'images/00002\.png is missing'):
        conv['gta'].main([root, '--nproc', '1'])
    root = str(tmp_path / 'synthia')
    make_synthia(root, n=2)
    os.remove(osp.join(root, 'GT', 'LABELS', '0000001.png'))
    with pytest.raises(FileNotFoundError, match=r'LABELS/0000001\.png is missing'):
        conv['synthia'].main([root, '--nproc', '1'])
    assert not any('_labelTrainIds' in f for f in os.listdir(osp.join(root, 'GT', 'LABELS')))


def test_size_mismatch_warns(conv, tmp_path):
    root = str(tmp_path / 'gta')
    make_gta(root, n=2)
    cv2.imwrite(osp.join(root, 'images', '00002.png'), np.zeros((7, 10, 3), np.uint8))
    with pytest.warns(UserWarning, match=r'1 image\(s\) differ in size .*images/00002\.png'):
        conv['gta'].main([root, '--nproc', '1'])


def test_unreadable_image_is_named(conv, tmp_path):
    root = str(tmp_path / 'synthia')
    make_synthia(root, n=2)
    with open(osp.join(root, 'RGB', '0000001.png'), 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(ValueError, match=r'cannot read image .*RGB/0000001\.png'):
        conv['synthia'].main([root, '--nproc', '1'])


def test_synthia_reads_r_channel_and_writes_16_class_stats(conv, tmp_path):
    root = str(tmp_path / 'synthia')
    raws = make_synthia(root)
    conv['synthia'].main([root, '--nproc', '1', '--num-classes', '16'])
    label_dir = osp.join(root, 'GT', 'LABELS')
    for name, raw in raws.items():
        out = read(osp.join(label_dir, name[:-4] + '_labelTrainIds.png'))
        assert out.flat[0] == 0 and out.flat[1] == 18 and out.flat[2] == 255
        np.testing.assert_array_equal(out, expected(raw, SYNTHIA_ID_TO_TRAIN))
    # one label file per image: the 16-class convention remaps at load time
    written = [n[:-4] + '_labelTrainIds.png' for n in raws]
    assert sorted(os.listdir(label_dir)) == sorted([*raws, *written])
    check_stats(root, root, 'GT/LABELS', raws, 19)
    lut16 = conv['synthia'].train_id_to_16()
    # raw id -> 19 -> 16 is SYNTHIA_ID_TO_TRAIN16
    for raw_id in range(1 << 16):
        want = SYNTHIA_ID_TO_TRAIN16.get(raw_id, 255)
        assert lut16[SYNTHIA_ID_TO_TRAIN.get(raw_id, 255)] == want, raw_id
    stats16 = check_stats(osp.join(root, 'class_stats16'), root, 'GT/LABELS', raws, 16, remap=lut16)
    stats19 = check_stats(root, root, 'GT/LABELS', raws, 19)
    assert stats16[0]['9'] == stats19[0]['10']  # sky is 10 of 19 and 9 of 16


@pytest.mark.parametrize(
    'label',
    [
        np.full((6, 10, 3), 3, np.uint8),  # an 8-bit re-save
        np.full((6, 10), 3, np.uint8),  # 8-bit grey
        np.full((6, 10), 3, np.uint16),  # 16-bit grey: no R channel
    ],
    ids=['8bit-rgb', '8bit-grey', '16bit-grey'])
def test_synthia_rejects_non_16bit_rgb_labels(conv, tmp_path, label):
    root = str(tmp_path / 'synthia')
    make_synthia(root, n=2)
    cv2.imwrite(osp.join(root, 'GT', 'LABELS', '0000001.png'), label)
    with pytest.raises(
            ValueError,
            match=r'0000001\.png.*must be 16-bit PNGs with the class id in the '
            r'R channel'):
        conv['synthia'].main([root, '--nproc', '1'])


def test_resume_skips_done_files_and_overwrite_redoes_them(conv, tmp_path):
    root = str(tmp_path / 'gta')
    raws = make_gta(root, n=3)
    label_dir = osp.join(root, 'labels')
    conv['gta'].main([root, '--nproc', '1'])
    stats_before = check_stats(root, root, 'labels', raws, 19)
    outs = [osp.join(label_dir, n[:-4] + '_labelTrainIds.png') for n in sorted(raws)]
    # a killed run: the second file never got written, and a temporary file was left behind
    os.remove(outs[1])
    open(osp.join(label_dir, '.00002_labelTrainIds.png.abc.tmp'), 'wb').close()
    open(osp.join(label_dir, '._00001.png'), 'wb').close()  # macOS metadata, not a label
    for p in (outs[0], outs[2]):
        os.utime(p, (1000, 1000))
    os.remove(osp.join(root, 'sample_class_stats.json'))
    conv['gta'].main([root, '--nproc', '1'])
    assert os.stat(outs[0]).st_mtime == 1000 and os.stat(outs[2]).st_mtime == 1000  # skipped
    np.testing.assert_array_equal(read(outs[1]), expected(raws['00002.png'], CS_ID_TO_TRAIN))
    assert check_stats(root, root, 'labels', raws, 19) == stats_before  # read back, all counted

    # a file skipped on resume is trusted as is; --overwrite converts it again
    cv2.imwrite(outs[0], np.zeros((6, 10), np.uint8))
    conv['gta'].main([root, '--nproc', '1'])
    assert check_stats(root, root, 'labels', raws, 19) != stats_before
    conv['gta'].main([root, '--nproc', '1', '--overwrite'])
    assert os.stat(outs[2]).st_mtime != 1000
    assert check_stats(root, root, 'labels', raws, 19) == stats_before


def test_acdc_writes_missing_train_ids_from_label_ids(conv, tmp_path):
    """A copy of ACDC with only ``*_gt_labelIds.png``: the converter writes the train ids the
    dataset reads (ACDCDataset builds afterwards); a shipped train-id file is kept."""
    from mmseg.registry import DATASETS
    from test_datasets.test_acdc import write_acdc
    root = str(tmp_path / 'acdc')
    want = write_acdc(root, conditions=('night', 'snow'), train_ids=False)
    with pytest.raises(FileNotFoundError, match='label files'):
        DATASETS.build(dict(type='ACDCDataset', data_root=root, conditions='snow', split='val'))
    conv['acdc'].main([root, '--conditions', 'night', 'snow', '--nproc', '1'])
    names = sorted(want)
    for rel in names:
        np.testing.assert_array_equal(read(osp.join(root, 'gt', rel + '_gt_labelTrainIds.png')),
                                      want[rel])
    with open(osp.join(root, 'sample_class_stats.json')) as f:
        files = [s['file'] for s in json.load(f)]
    assert files == [osp.join('gt', n + '_gt_labelTrainIds.png') for n in names]
    ds = DATASETS.build(dict(type='ACDCDataset', data_root=root, conditions=('night', 'snow'),
                             split='val', pipeline=[dict(type='LoadAnnotations')]))
    assert len(ds) == 4
    # a train-id file that is there already (ACDC ships them) is not rewritten
    kept = osp.join(root, 'gt', names[0] + '_gt_labelTrainIds.png')
    cv2.imwrite(kept, np.zeros_like(want[names[0]]))
    conv['acdc'].main([root, '--conditions', 'night', '--nproc', '1'])
    assert not read(kept).any()
    # a label without its image is named
    img = osp.join(root, 'rgb_anon', names[0] + '_rgb_anon.png')
    os.remove(img)
    with pytest.raises(FileNotFoundError, match=f'{img} is missing'):
        conv['acdc'].main([root, '--nproc', '1', '--conditions', 'night'])


def test_interrupted_write_leaves_no_label(conv, tmp_path, monkeypatch):
    tic = conv['train_id_conversion']
    path = str(tmp_path / 'x_labelTrainIds.png')

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(tic.os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        tic.write_png_atomic(path, np.zeros((4, 4), np.uint8))
    assert os.listdir(tmp_path) == []


def test_cli_in_parallel(tmp_path):
    root = str(tmp_path / 'synthia')
    raws = make_synthia(root, n=4)
    # a relative dataset path from another working directory: the stats still name files
    # relative to the dataset root
    cmd = [
        sys.executable,
        osp.join(CONVERTERS, 'synthia.py'), 'synthia', '--nproc', '2', '--num-classes', '16'
    ]
    proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    label_dir = osp.join(root, 'GT', 'LABELS')
    for name, raw in raws.items():
        np.testing.assert_array_equal(
            read(osp.join(label_dir, name[:-4] + '_labelTrainIds.png')),
            expected(raw, SYNTHIA_ID_TO_TRAIN))
    check_stats(root, root, 'GT/LABELS', raws, 19)
    assert osp.isfile(osp.join(root, 'class_stats16', 'samples_with_class.json'))
