import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
import make_split  # noqa: E402


def make_images(root, names, suffix='.png'):
    for n in names:
        path = root / 'images' / f'{n}{suffix}'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'x')


def test_seeded_disjoint_split_that_mmseg_can_read(tmp_path):
    names = [f'{i:05d}' for i in range(20)] + ['sub/00100']
    make_images(tmp_path, names)
    make_split.main([str(tmp_path), '--num-val', '5', '--seed', '1'])
    train = (tmp_path / 'splits' / 'train.txt').read_text().split()
    val = (tmp_path / 'splits' / 'val.txt').read_text().split()
    assert len(val) == 5 and sorted(train + val) == sorted(names) and not set(train) & set(val)
    # reproducible, and another seed draws another split
    assert make_split.split(sorted(names), 5, 1)[1] == sorted(val)
    assert make_split.split(sorted(names), 5, 2)[1] != sorted(val)
    with pytest.raises(SystemExit, match='overwrite'):
        make_split.main([str(tmp_path), '--num-val', '5'])


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='images'):
        make_split.main([str(tmp_path)])
    make_images(tmp_path, ['a', 'b'])
    with pytest.raises(ValueError, match='num-val'):
        make_split.main([str(tmp_path), '--num-val', '2'])
    with pytest.raises(ValueError, match=r'no \*.jpg'):
        make_split.main([str(tmp_path), '--suffix', '.jpg'])
