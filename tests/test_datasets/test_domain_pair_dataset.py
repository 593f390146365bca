import json
import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS

import mmsfda  # noqa: F401
from conftest import write_tiny_seg_data

PIPE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]


def seg_dataset(root):
    return dict(type='BaseSegDataset', data_root=root, metainfo=dict(classes=('a', 'b', 'c', 'd')),
                img_suffix='.png', seg_map_suffix='.png',
                data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=PIPE)


def write_stats(root, num_classes=4):
    import cv2
    records = []
    for f in sorted(__import__('os').listdir(osp.join(root, 'ann'))):
        label = cv2.imread(osp.join(root, 'ann', f), cv2.IMREAD_UNCHANGED)
        rec = {'file': osp.join('ann', f)}
        rec.update({str(c): int((label == c).sum()) for c in range(num_classes)
                    if (label == c).any()})
        records.append(rec)
    with open(osp.join(root, 'sample_class_stats.json'), 'w') as f:
        json.dump(records, f)
    return records


def test_pairs_have_both_branches(tmp_path):
    src = write_tiny_seg_data(str(tmp_path / 's'), num=3, seed=0)
    tgt = write_tiny_seg_data(str(tmp_path / 't'), num=5, seed=1)
    ds = DATASETS.build(dict(type='DomainPairDataset', source=seg_dataset(src),
                             target=seg_dataset(tgt)))
    assert len(ds) == 3
    np.random.seed(0)
    targets = set()
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {'source', 'target'}
        assert item['source']['data_samples'].img_path.endswith(f'{i:03d}.png')
        targets.add(item['target']['data_samples'].img_path)
    assert len(targets) > 1  # independent target draws
    assert ds.metainfo['classes'] == ('a', 'b', 'c', 'd')


def test_target_only(tmp_path):
    tgt = write_tiny_seg_data(str(tmp_path / 't'), num=2)
    ds = DATASETS.build(dict(type='DomainPairDataset', target=seg_dataset(tgt)))
    assert len(ds) == 2 and set(ds[0]) == {'target'}


def test_rare_class_sampling_prefers_rare_classes(tmp_path):
    src = write_tiny_seg_data(str(tmp_path / 's'), num=6, seed=0)
    records = write_stats(src)
    ds = DATASETS.build(dict(type='DomainPairDataset', source=seg_dataset(src),
                             target=seg_dataset(src),
                             rare_class_sampling=dict(temperature=0.01, min_pixels=10, seed=0)))
    counts = np.zeros(4)
    for rec in records:
        for c in range(4):
            counts[c] += rec.get(str(c), 0)
    rarest = int(np.argmin(counts))
    drawn = [ds.rcs.sample()[0] for _ in range(200)]
    assert np.bincount(drawn, minlength=4).argmax() == rarest
    item = ds[0]
    assert 'source' in item and 'target' in item


def test_rare_class_sampling_errors(tmp_path):
    src = write_tiny_seg_data(str(tmp_path / 's'), num=2)
    with pytest.raises(FileNotFoundError, match='sample_class_stats.json'):
        DATASETS.build(dict(type='DomainPairDataset', source=seg_dataset(src),
                            target=seg_dataset(src), rare_class_sampling=dict()))
    write_stats(src)
    with pytest.raises(ValueError, match='lower min_pixels'):
        DATASETS.build(dict(type='DomainPairDataset', source=seg_dataset(src),
                            target=seg_dataset(src),
                            rare_class_sampling=dict(min_pixels=10**9)))
    with pytest.raises(ValueError, match='source is None'):
        DATASETS.build(dict(type='DomainPairDataset', target=seg_dataset(src),
                            rare_class_sampling=dict()))


def test_seeded_rare_class_sampling_differs_between_workers(tmp_path):
    """Every dataloader worker holds a copy of the dataset: a seeded sampler must not draw the
    same samples in all of them."""
    import torch
    from torch.utils.data import DataLoader
    src = write_tiny_seg_data(str(tmp_path / 's'), num=6, seed=0)
    write_stats(src)
    ds = DATASETS.build(dict(type='DomainPairDataset', source=seg_dataset(src),
                             target=seg_dataset(src),
                             rare_class_sampling=dict(temperature=1.0, min_pixels=10, seed=0)))

    class Draws(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.tensor([ds.rcs.sample()[0] for _ in range(20)])

    per_worker = list(DataLoader(Draws(), batch_size=1, num_workers=2))
    assert not torch.equal(per_worker[0], per_worker[1])
    # reproducible: the same seed gives the same draws in the same worker
    again = list(DataLoader(Draws(), batch_size=1, num_workers=2))
    assert all(torch.equal(a, b) for a, b in zip(per_worker, again))
