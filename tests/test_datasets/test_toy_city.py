"""ToyCityDataset and the toy dataset configs, on tiny generated data."""
import copy
import importlib.util
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmsfda  # noqa: F401  (registers the dataset and transforms)
from mmseg.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_', 'datasets')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        'make_toy_data', osp.join(REPO, 'tools', 'make_toy_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    root = str(tmp_path_factory.mktemp('data') / 'toy')
    tool.generate(root, seed=0, num_train=4, num_val=2, height=32, width=64, progress=False)
    init_default_scope('mmseg')
    return root


def dataset_cfg(config, loader, toy_root):
    """The dataset config of ``loader`` in a base config, pointed at ``toy_root``."""
    cfg = Config.fromfile(osp.join(BASE, config))
    ds = copy.deepcopy(cfg[loader]['dataset'])
    assert ds['data_root'].startswith('data/toy/')
    ds['data_root'] = ds['data_root'].replace('data/toy', toy_root, 1)
    return ds


def test_metainfo_matches_the_generator(toy_root):
    import json
    meta = json.load(open(osp.join(toy_root, 'meta.json')))
    ds = DATASETS.get('ToyCityDataset')
    assert list(ds.METAINFO['classes']) == meta['classes']
    assert len(ds.METAINFO['palette']) == len(meta['classes']) == 10


@pytest.mark.parametrize('config,loader,domain,split,n', [
    ('toy_source.py', 'train_dataloader', 'source', 'train', 4),
    ('toy_source.py', 'val_dataloader', 'source', 'val', 2),
    ('toy_target.py', 'train_dataloader', 'target', 'train', 4),
    ('toy_target.py', 'test_dataloader', 'target', 'val', 2),
    ('toy_source_to_target.py', 'train_dataloader', 'source', 'train', 4),
    ('toy_source_to_target.py', 'val_dataloader', 'target', 'val', 2),
    ('toy_source_to_target.py', 'test_dataloader', 'target', 'val', 2),
])
def test_configs_load_the_right_split_through_their_pipeline(toy_root, config, loader, domain,
                                                            split, n):
    ds = DATASETS.build(dataset_cfg(config, loader, toy_root))
    assert len(ds) == n
    item = ds[0]
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(toy_root, domain, 'images', split, '00000.png')
    assert info['seg_map_path'] == osp.join(toy_root, domain, 'labels', split, '00000.png')
    assert tuple(item['inputs'].shape) == (3, 32, 64)
    gt = item['data_samples'].gt_sem_seg.data.numpy()[0]
    assert gt.shape == (32, 64)
    assert set(np.unique(gt)) <= set(range(10)) | {255}
    assert ds.metainfo['classes'][9] == 'car'


def test_dataloader_settings():
    cfg = Config.fromfile(osp.join(BASE, 'toy_source_to_target.py'))
    assert cfg.crop_size == (128, 256)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader]['batch_size'] == 4 and cfg[loader]['num_workers'] == 2
        assert cfg[loader]['persistent_workers'] is True
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) else [cfg.val_evaluator]
    assert dict(type='IoUMetric', iou_metrics=['mIoU']) in evaluators
    types = [t['type'] for t in cfg.train_dataloader['dataset']['pipeline']]
    assert types == ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations', 'RandomFlip',
                     'PackSegInputs']


def test_unlabelled_target_train_dataset(toy_root):
    cfg = Config.fromfile(osp.join(BASE, 'toy_source_to_target.py'))
    ds_cfg = copy.deepcopy(cfg.toy_target_train_dataset)
    ds_cfg['data_root'] = ds_cfg['data_root'].replace('data/toy', toy_root, 1)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 4
    assert 'seg_map_path' not in ds.get_data_info(0)
    assert 'gt_sem_seg' not in ds[0]['data_samples']


def test_missing_data_says_how_to_generate_it(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        DATASETS.build(dict(type='ToyCityDataset', data_root=str(tmp_path / 'nowhere'),
                            data_prefix=dict(img_path='images/train',
                                             seg_map_path='labels/train')))
    msg = str(e.value)
    assert osp.join(str(tmp_path / 'nowhere'), 'images', 'train') in msg
    assert 'python tools/make_toy_data.py --out data/toy' in msg
    os.makedirs(tmp_path / 'empty' / 'images' / 'train')
    with pytest.raises(FileNotFoundError, match='holds no'):
        DATASETS.build(dict(type='ToyCityDataset', data_root=str(tmp_path / 'empty'),
                            data_prefix=dict(img_path='images/train',
                                             seg_map_path='labels/train')))


def test_image_without_label_names_both_files(toy_root, tmp_path):
    root = str(tmp_path / 'source')
    shutil.copytree(osp.join(toy_root, 'source'), root)
    os.remove(osp.join(root, 'labels', 'train', '00002.png'))
    with pytest.raises(FileNotFoundError) as e:
        DATASETS.build(dict(type='ToyCityDataset', data_root=root,
                            data_prefix=dict(img_path='images/train',
                                             seg_map_path='labels/train')))
    msg = str(e.value)
    assert osp.join(root, 'images', 'train', '00002.png') in msg
    assert osp.join(root, 'labels', 'train', '00002.png') in msg


def test_bad_files_fail_with_the_file_name(toy_root, tmp_path):
    """The configs' checked transforms name the file: corrupt image, out-of-range label."""
    ds_cfg = dataset_cfg('toy_source.py', 'val_dataloader', toy_root)
    root = str(tmp_path / 'source')
    shutil.copytree(osp.join(toy_root, 'source'), root)
    ds_cfg['data_root'] = root
    bad_img = osp.join(root, 'images', 'val', '00000.png')
    with open(bad_img, 'wb') as f:
        f.write(b'not a png')
    bad_label = osp.join(root, 'labels', 'val', '00001.png')
    import cv2
    label = cv2.imread(bad_label, cv2.IMREAD_UNCHANGED)
    label[0, 0] = 10
    cv2.imwrite(bad_label, label)
    ds = DATASETS.build(ds_cfg)
    with pytest.raises(ValueError, match='cannot decode image file .*images/val/00000.png'):
        ds[0]
    with pytest.raises(ValueError, match=r'labels/val/00001.png.*10 \(1 px\).*\[0, 10\)'):
        ds[1]
