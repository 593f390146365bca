"""SYNTHIA (19- and 16-class) and Cityscapes16 datasets, their base configs and evaluators."""
import importlib
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmsfda  # noqa: F401  (registers the datasets and the metric)
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS, METRICS
from mmsfda.datasets.synthia import SYNTHIA13_CLASSES, SYNTHIA16_CLASSES
from mmsfda.evaluation.metrics.subset_iou_metric import SYNTHIA_16WAY_SUBSETS, SYNTHIA_19WAY_SUBSETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_', 'datasets')
# SYNTHIA id -> 19-class and 16-class train ids (as DAFormer's converter)
TO_19 = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9,
    1: 10, 10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}
TO_16 = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 9,
    10: 10, 17: 11, 8: 12, 19: 13, 12: 14, 11: 15
}
# Cityscapes 19 train ids -> 16 (terrain 9, truck 14, train 16 -> 255)
CS19_TO_16 = {
    0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 10: 9,
    11: 10, 12: 11, 13: 12, 15: 13, 17: 14, 18: 15
}


def remap(raw, id_map):
    out = np.full(raw.shape, 255, np.uint8)
    for k, v in id_map.items():
        out[raw == k] = v
    return out


def whole(pipeline_cfg=()):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'), *pipeline_cfg,
        dict(type='PackSegInputs')
    ]


@pytest.fixture(scope='module')
def synthia_root(tmp_path_factory):
    """Two raw SYNTHIA frames (16-bit, id in R, junk in G/B), converted by synthia.py."""
    init_default_scope('mmseg')
    root = str(tmp_path_factory.mktemp('data') / 'synthia')
    rng = np.random.default_rng(1)
    os.makedirs(osp.join(root, 'RGB'))
    os.makedirs(osp.join(root, 'GT', 'LABELS'))
    raws = {}
    for i in range(2):
        raw = rng.integers(0, 24, size=(38, 64)).astype(np.uint16)
        junk = rng.integers(0, 65536, size=(38, 64, 2))
        cv2.imwrite(
            osp.join(root, 'GT', 'LABELS', f'{i:07d}.png'),
            np.dstack([junk, raw]).astype(np.uint16))
        cv2.imwrite(
            osp.join(root, 'RGB', f'{i:07d}.png'), rng.integers(0, 256, (38, 64, 3), np.uint8))
        raws[f'{i:07d}'] = raw
    sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
    try:
        importlib.import_module('synthia').main([root, '--nproc', '1'])
    finally:
        sys.path.pop(0)
    return root, raws


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory):
    """One Cityscapes val frame in mmseg's converted layout, holding every train id and 255."""
    root = str(tmp_path_factory.mktemp('data') / 'cityscapes')
    for d in ('leftImg8bit/val/aachen', 'gtFine/val/aachen'):
        os.makedirs(osp.join(root, d))
    label = np.array(list(range(19)) + [255], np.uint8).repeat(2).reshape(4, 10)
    label = np.tile(label, (5, 4))  # 20 x 40
    stem = osp.join(root, '{}/val/aachen/aachen_000000_000019_{}.png')
    cv2.imwrite(stem.format('gtFine', 'gtFine_labelTrainIds'), label)
    cv2.imwrite(stem.format('leftImg8bit', 'leftImg8bit'), np.zeros((20, 40, 3), np.uint8))
    return root, label


def test_synthia_19_classes(synthia_root):
    root, raws = synthia_root
    ds = DATASETS.build(
        dict(
            type='SynthiaDataset',
            data_root=root,
            data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
            pipeline=whole()))
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert ds.metainfo['label_map'] is None
    for i, name in enumerate(sorted(raws)):
        assert ds.get_data_info(i)['seg_map_path'] == osp.join(root, 'GT', 'LABELS',
                                                               f'{name}_labelTrainIds.png')
        gt = ds[i]['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, remap(raws[name], TO_19))


def test_synthia16_remaps_at_load_time(synthia_root):
    root, raws = synthia_root
    ds = DATASETS.build(
        dict(
            type='Synthia16Dataset',
            data_root=root,
            data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
            pipeline=whole()))
    assert ds.metainfo['classes'] == SYNTHIA16_CLASSES and len(SYNTHIA16_CLASSES) == 16
    palette19 = CityscapesDataset.METAINFO['palette']
    assert ds.metainfo['palette'] == [palette19[i] for i in sorted(CS19_TO_16)]
    for i, name in enumerate(sorted(raws)):
        gt = ds[i]['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, remap(raws[name], TO_16))
    assert SYNTHIA13_CLASSES == tuple(
        c for c in SYNTHIA16_CLASSES if c not in ('wall', 'fence', 'pole'))


@pytest.mark.parametrize('source', ['synthia_512x512.py', 'synthia16_512x512.py'])
def test_source_base_configs(synthia_root, source):
    root, _ = synthia_root
    cfg = Config.fromfile(osp.join(BASE, source))
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.type == cfg.synthia_train_dataset.type
    ds_cfg.data_root = root
    ds = DATASETS.build(ds_cfg)
    sample = ds[1]
    assert tuple(sample['inputs'].shape) == (3, 512, 512)
    assert sample['data_samples'].metainfo['scale_factor'] == (20.0, 20.0)  # 64x38 fits 1280x760
    n = len(ds.metainfo['classes'])
    assert n == (16 if '16' in source else 19)
    assert set(np.unique(sample['data_samples'].gt_sem_seg.data.numpy())) <= set(range(n)) | {255}


def test_cityscapes16_remaps_val_labels(cityscapes_root):
    root, label = cityscapes_root
    cfg = Config.fromfile(osp.join(BASE, 'cityscapes_512x512_target_synthia16.py'))
    ds_cfg = cfg.test_dataloader.dataset
    assert ds_cfg.type == 'Cityscapes16Dataset'
    ds_cfg.data_root = root
    ds = DATASETS.build(ds_cfg)
    assert ds.metainfo['classes'] == SYNTHIA16_CLASSES
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3, 512, 1024)  # 40x20 fits (1024, 512)
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()  # scored at the original resolution
    np.testing.assert_array_equal(gt, remap(label, CS19_TO_16))
    assert (gt == 255).sum() == (np.isin(label, [9, 14, 16, 255])).sum()


@pytest.mark.parametrize('target,subsets,n', [
    ('cityscapes_512x512_target_synthia19.py', SYNTHIA_19WAY_SUBSETS, 19),
    ('cityscapes_512x512_target_synthia16.py', SYNTHIA_16WAY_SUBSETS, 16),
])
def test_synthia_evaluators(cityscapes_root, tmp_path, target, subsets, n):
    root, _ = cityscapes_root
    source = 'synthia16_512x512.py' if n == 16 else 'synthia_512x512.py'
    cfg_file = tmp_path / 'syn2cs.py'
    cfg_file.write_text(f"_base_ = ['{BASE}/{source}', '{BASE}/{target}']\n")
    cfg = Config.fromfile(str(cfg_file))  # no key clashes between source and target bases
    assert cfg.test_evaluator == cfg.val_evaluator
    iou, calibration = cfg.val_evaluator
    assert calibration.type == 'CalibrationMetric'
    metric = METRICS.build(iou)  # the preset name resolves to the subsets
    assert {k: tuple(v) for k, v in metric.subsets.items()} == subsets
    cfg.val_dataloader.dataset.data_root = root
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(ds.metainfo['classes']) == n
    metric.dataset_meta = ds.metainfo  # resolves every class name of the subsets
