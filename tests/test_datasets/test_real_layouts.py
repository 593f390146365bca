"""Real-data layouts (docs/datasets.md) on small generated files: checked when the dataset is built,
and a GTA5 -> Cityscapes config runs on them through the real ImageNet init path."""
import importlib
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmseg.registry import DATASETS

from conftest import REPO
from mmsfda.apis import load_config
from mmsfda.utils.repo_tools import load_repo_tool
from test_tools.test_model_converters import WIDTH, CaffeDeepLab

SHAPE = (48, 96)
CITIES = {'train': 'aachen', 'val': 'frankfurt'}


def gta_converter():
    sys.path.insert(0, osp.join(REPO, 'tools', 'dataset_converters'))
    try:
        return importlib.import_module('gta')
    finally:
        sys.path.pop(0)


def write_gta(root, num=3, convert=True, seed=0):
    """``images/NNNNN.png`` and raw ``labels/NNNNN.png`` (Cityscapes label ids); converted by the
    repository's converter unless ``convert=False``."""
    rng = np.random.default_rng(seed)
    for d in ('images', 'labels'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    for i in range(1, num + 1):
        cv2.imwrite(osp.join(root, 'images', f'{i:05d}.png'),
                    rng.integers(0, 256, (*SHAPE, 3), np.uint8))
        cv2.imwrite(osp.join(root, 'labels', f'{i:05d}.png'),
                    rng.choice([7, 8, 11, 21, 23, 24, 26, 0], size=SHAPE).astype(np.uint8))
    if convert:
        gta_converter().main([root, '--nproc', '1'])
    return root


def write_cityscapes(root, labels=True, seed=1):
    """``leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png`` and, with ``labels``, the
    converted ``gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png`` (what mmseg's converter
    writes from the polygons)."""
    rng = np.random.default_rng(seed)
    for split, city in CITIES.items():
        for i in range(2):
            name = f'{city}_{i:06d}_000019'
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            os.makedirs(img_dir, exist_ok=True)
            cv2.imwrite(osp.join(img_dir, f'{name}_leftImg8bit.png'),
                        rng.integers(0, 256, (*SHAPE, 3), np.uint8))
            ann_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(ann_dir, exist_ok=True)
            if labels:
                cv2.imwrite(osp.join(ann_dir, f'{name}_gtFine_labelTrainIds.png'),
                            rng.choice([0, 1, 2, 8, 10, 11, 13, 255], size=SHAPE).astype(np.uint8))
    return root


def build(cfg):
    return DATASETS.build(dict(cfg, pipeline=[]))


GTA = dict(type='GTA5Dataset', data_prefix=dict(img_path='images', seg_map_path='labels'))
CITYSCAPES_VAL = dict(type='CheckedCityscapesDataset',
                      data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))


def test_unconverted_gta_labels_fail_at_build_naming_the_converter(tmp_path):
    root = write_gta(str(tmp_path / 'gta'), convert=False)
    with pytest.raises(FileNotFoundError) as err:
        build(dict(GTA, data_root=root))
    msg = str(err.value)
    assert f'GTA5Dataset: 3 of 3 label files (*_labelTrainIds.png) are missing under {root}/labels' \
        in msg
    assert f'python tools/dataset_converters/gta.py {root} --nproc 8' in msg
    gta_converter().main([root, '--nproc', '1'])
    assert len(build(dict(GTA, data_root=root))) == 3


def test_wrong_layout_and_empty_split_fail_at_build(tmp_path):
    root = write_gta(str(tmp_path / 'gta'), num=1)
    with pytest.raises(FileNotFoundError, match=f'image folder {tmp_path}/gta/RGB does not exist'):
        build(dict(GTA, data_root=root, data_prefix=dict(img_path='RGB', seg_map_path='labels')))
    with pytest.raises(FileNotFoundError, match=f'label folder {tmp_path}/gta/GT does not exist'):
        build(dict(GTA, data_root=root, data_prefix=dict(img_path='images', seg_map_path='GT')))
    (tmp_path / 'empty.txt').write_text('')
    with pytest.raises(ValueError, match=f'the split file {tmp_path}/empty.txt lists no image'):
        build(dict(GTA, data_root=root, ann_file=str(tmp_path / 'empty.txt')))
    os.makedirs(tmp_path / 'cityscapes' / 'leftImg8bit' / 'val')
    os.makedirs(tmp_path / 'cityscapes' / 'gtFine' / 'val')
    with pytest.raises(ValueError, match=r'no \*_leftImg8bit.png image under .*leftImg8bit/val'):
        build(dict(CITYSCAPES_VAL, data_root=str(tmp_path / 'cityscapes')))


def test_cityscapes_without_train_ids_names_mmsegs_converter(tmp_path):
    root = write_cityscapes(str(tmp_path / 'cityscapes'), labels=False)
    for dataset in (CITYSCAPES_VAL, dict(CITYSCAPES_VAL, type='Cityscapes16Dataset')):
        with pytest.raises(FileNotFoundError) as err:
            build(dict(dataset, data_root=root))
        assert '2 of 2 label files (*_gtFine_labelTrainIds.png) are missing' in str(err.value)
        assert f'python tools/dataset_converters/cityscapes.py {root} --nproc 8' in str(err.value)
    # the unlabelled target train split needs no labels
    assert len(build(dict(type='CheckedCityscapesDataset', data_root=root,
                          data_prefix=dict(img_path='leftImg8bit/train')))) == 2


def test_gta5_to_cityscapes_config_runs_on_the_real_layouts(tmp_path, monkeypatch):
    """The DACS GTA5 -> Cityscapes config from docs/datasets.md's layout: data under data/, the caffe
    ImageNet file under pretrained/ (through the converter), one iteration and a validation, at
    the generated width of the ResNet-101 and with num_workers=0."""
    data = tmp_path / 'data'
    write_gta(str(data / 'gta'))
    write_cityscapes(str(data / 'cityscapes'))
    (tmp_path / 'pretrained').mkdir()
    torch.manual_seed(0)
    caffe = load_repo_tool('model_converters/deeplabv2_caffe2mmseg')
    torch.save(caffe.convert_deeplabv2(CaffeDeepLab().state_dict_without_tracking('Scale.'),
                                       backbone_only=True),
               tmp_path / 'pretrained' / 'deeplabv2_resnet101_caffe_imagenet.pth')
    monkeypatch.delenv('MMSFDA_PRETRAINED_DIR', raising=False)
    monkeypatch.chdir(tmp_path)  # data/ and pretrained/ relative to the working directory
    cfg = load_config(f'{REPO}/configs/dacs/dacs_deeplabv2_r101_1xb2-40k_gta5-to-cityscapes-512x512.py')
    student = cfg.model.student
    student.backbone.update(base_channels=WIDTH, stem_channels=WIDTH)
    student.decode_head.in_channels = WIDTH * 32
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.rare_class_sampling.min_pixels = 10  # 48x96 images
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = torch.load(tmp_path / 'work' / 'iter_1.pth', map_location='cpu', weights_only=False)
    # the ImageNet file initialised student and teacher (frozen BN: its statistics stay)
    ref = torch.load(tmp_path / 'pretrained' / 'deeplabv2_resnet101_caffe_imagenet.pth')
    for net in ('student', 'teacher'):
        torch.testing.assert_close(ckpt['state_dict'][f'{net}.backbone.layer3.5.bn2.running_var'],
                                   ref['layer3.5.bn2.running_var'])
    assert 'val/mIoU' in runner.message_hub.log_scalars  # validated on the Cityscapes val layout
