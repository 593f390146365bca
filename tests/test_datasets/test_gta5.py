"""GTA5Dataset on converted tiny GTA5 files, through the base config's real pipeline."""
import importlib
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import mmsfda  # noqa: F401  (registers the datasets)
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_', 'datasets')
# Cityscapes label id -> train id (Cityscapes' labelTrainIds)
CS_ID_TO_TRAIN = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}


@pytest.fixture(scope='module')
def gta_root(tmp_path_factory):
    """Two raw GTA5 frames (palettised label ids), converted by tools/dataset_converters/gta.py."""
    init_default_scope('mmseg')
    root = str(tmp_path_factory.mktemp('data') / 'gta')
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'labels'))
    raws = {}
    for i in (1, 2):
        raw = rng.integers(0, 36, size=(30, 40)).astype(np.uint8)
        label = Image.fromarray(raw, mode='P')
        label.putpalette(rng.integers(0, 256, size=768).astype(np.uint8).tolist())
        label.save(osp.join(root, 'labels', f'{i:05d}.png'))
        cv2.imwrite(
            osp.join(root, 'images', f'{i:05d}.png'), rng.integers(0, 256, (30, 40, 3), np.uint8))
        raws[f'{i:05d}'] = raw
    sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
    try:
        importlib.import_module('gta').main([root, '--nproc', '1'])
    finally:
        sys.path.pop(0)
    return root, raws


def train_ids(raw):
    out = np.full(raw.shape, 255, np.uint8)
    for k, v in CS_ID_TO_TRAIN.items():
        out[raw == k] = v
    return out


def test_loads_converted_labels_exactly(gta_root):
    root, raws = gta_root
    ds = DATASETS.build(
        dict(
            type='GTA5Dataset',
            data_root=root,
            data_prefix=dict(img_path='images', seg_map_path='labels'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))
    assert len(ds) == 2
    assert ds.metainfo['classes'] == CityscapesDataset.METAINFO['classes']
    assert len(ds.metainfo['palette']) == 19 and ds.metainfo['label_map'] is None
    for i, name in enumerate(sorted(raws)):
        info = ds.get_data_info(i)
        assert info['seg_map_path'] == osp.join(root, 'labels', f'{name}_labelTrainIds.png')
        gt = ds[i]['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, train_ids(raws[name]))


def test_base_config_pipeline(gta_root):
    root, _ = gta_root
    cfg = Config.fromfile(osp.join(BASE, 'gta5_512x512.py'))
    assert cfg.train_dataloader.dataset.type == 'GTA5Dataset'
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = root
    ds = DATASETS.build(ds_cfg)
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3, 512, 512)
    # 40x30 fits (1280, 720) at x24, then a 512 crop
    assert sample['data_samples'].metainfo['img_shape'] == (512, 512)
    assert sample['data_samples'].metainfo['scale_factor'] == (24.0, 24.0)
    gt = sample['data_samples'].gt_sem_seg.data
    assert tuple(gt.shape) == (1, 512, 512)
    assert set(np.unique(gt.numpy())) <= set(range(19)) | {255}


def test_combines_with_the_target_base(tmp_path):
    cfg_file = tmp_path / 'gta2cs.py'
    cfg_file.write_text(
        f"_base_ = ['{BASE}/gta5_512x512.py', '{BASE}/cityscapes_512x512_target.py']\n")
    cfg = Config.fromfile(str(cfg_file))  # fails on keys defined in both bases
    assert cfg.train_dataloader.dataset.type == 'GTA5Dataset'
    assert cfg.val_dataloader.dataset.type == 'CheckedCityscapesDataset'
    assert [m.type for m in cfg.val_evaluator] == ['IoUMetric', 'CalibrationMetric']
    assert cfg.cityscapes_train_dataset.pipeline[1].scale == (1024, 512)
