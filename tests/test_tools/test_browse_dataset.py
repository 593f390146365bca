"""tools/analysis/browse_dataset.py: source/target pairs side by side, labels in palette colours."""
import os.path as osp

import cv2
import numpy as np

from conftest import write_tiny_seg_data
from mmsfda.utils.repo_tools import load_repo_tool

browse = load_repo_tool('analysis/browse_dataset')
H, W = 32, 64
PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]


def dataset_cfg(root, labels):
    pipeline = [dict(type='LoadImageFromFile')]
    if labels:
        pipeline.append(dict(type='LoadAnnotations'))
    pipeline.append(dict(type='PackSegInputs'))
    return dict(type='BaseSegDataset', data_root=root, img_suffix='.png', seg_map_suffix='.png',
                data_prefix=dict(img_path='img', seg_map_path='ann' if labels else ''),
                metainfo=dict(classes=('a', 'b', 'c', 'd'), palette=PALETTE), pipeline=pipeline)


def write_config(tmp_path, dataset):
    path = tmp_path / 'cfg.py'
    path.write_text(f'default_scope = "mmseg"\ntrain_dataloader = dict(dataset={dataset!r})\n')
    return str(path)


def panels(path, n):
    """The ``n`` image panels of a written row (RGB), title strips cut off."""
    out = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    assert out.shape == (browse.TITLE_H + H, n * W, 3)
    return [out[browse.TITLE_H:, i * W:(i + 1) * W].astype(int) for i in range(n)]


def test_pairs_side_by_side_with_palette_overlays(tmp_path):
    src = write_tiny_seg_data(str(tmp_path / 'src'), num=3, shape=(H, W), seed=0)
    tgt = write_tiny_seg_data(str(tmp_path / 'tgt'), num=2, shape=(H, W), seed=1)
    config = write_config(tmp_path, dict(type='DomainPairDataset', source=dataset_cfg(src, True),
                                         target=dataset_cfg(tgt, False)))
    out = tmp_path / 'out'
    browse.main([config, '--out-dir', str(out), '--num', '2', '--alpha', '0.5'])
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and files[0].startswith('0000_') and files[1].startswith('0001_')
    s_img, s_lab, t_img, t_lab = panels(str(out / files[0]), 4)
    # the source panels are source item 0: its image, its label blended at alpha 0.5
    img = cv2.cvtColor(cv2.imread(osp.join(src, 'img', '000.png')), cv2.COLOR_BGR2RGB).astype(int)
    label = cv2.imread(osp.join(src, 'ann', '000.png'), cv2.IMREAD_GRAYSCALE)
    assert np.abs(s_img - img).max() <= 2  # PNG round trip of the written row
    want = 0.5 * img + 0.5 * np.asarray(PALETTE)[label]
    assert np.abs(s_lab - want).max() <= 2
    # the target has no labels: its image is one of the target files, its label panel black
    targets = [cv2.cvtColor(cv2.imread(osp.join(tgt, 'img', f'{i:03d}.png')),
                            cv2.COLOR_BGR2RGB).astype(int) for i in range(2)]
    assert min(np.abs(t_img - t).max() for t in targets) <= 2
    assert t_lab.max() == 0


def test_plain_dataset_and_val_split(tmp_path):
    root = write_tiny_seg_data(str(tmp_path / 'd'), num=2, shape=(H, W))
    config = tmp_path / 'cfg.py'
    config.write_text(f'default_scope = "mmseg"\nval_dataloader = dict(dataset='
                      f'{dataset_cfg(root, True)!r})\n')
    out = tmp_path / 'out'
    browse.main([str(config), '--out-dir', str(out), '--split', 'val', '--num', '5'])
    files = sorted(p.name for p in out.iterdir())
    assert files == ['0000_000.png', '0001_001.png']  # --num beyond the dataset: all of it
    img, lab = panels(str(out / files[1]), 2)
    label = cv2.imread(osp.join(root, 'ann', '001.png'), cv2.IMREAD_GRAYSCALE)
    for k in np.unique(label):  # each class shows its own palette colour
        mean = (lab - 0.5 * img)[label == k].mean(0)
        assert np.abs(mean - 0.5 * np.asarray(PALETTE[k])).max() <= 2
