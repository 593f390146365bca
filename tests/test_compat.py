"""The stack shim of mmsfda.compat: resume and load_from under torch 2.13 + mmengine 0.10.7."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from mmsfda.utils import mmseg_tool_path as mmseg_tool

CONFIG = '''
_base_ = ['{repo}/configs/_base_/models/deeplabv2_r18-tiny.py',
          '{repo}/configs/_base_/schedules/sgd_poly_iter.py',
          '{repo}/configs/_base_/default_runtime.py']
randomness = dict(seed=0, deterministic=True)
crop_size = (32, 64)
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes={num_classes}))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
dataset = dict(type='BaseSegDataset', data_root='{data}', metainfo=dict(classes={classes}),
               img_suffix='.png', seg_map_suffix='.png',
               data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=pipeline)
train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dataset)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dataset)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
max_iters = {iters}
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end={total}, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval=1000)
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False,
                                     interval={ckpt_interval}, max_keep_ckpts=-1),
                     logger=dict(interval=1), visualization=dict(draw=False))
'''




def write_config(path, data, iters, total, ckpt_interval, num_classes=4):
    classes = tuple(f'c{i}' for i in range(num_classes))
    with open(path, 'w') as f:
        f.write(CONFIG.format(repo=REPO, data=data, iters=iters, total=total,
                              ckpt_interval=ckpt_interval, num_classes=num_classes,
                              classes=classes))
    return path


def run_tool(args, expect_ok=True):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    if expect_ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def final_weights(work_dir, it):
    ckpt = torch.load(osp.join(work_dir, f'iter_{it}.pth'), map_location='cpu', weights_only=False)
    return ckpt['state_dict']


def test_resume_is_exact(tiny_seg_data, tmp_path):
    n = 6
    full = str(tmp_path / 'full')
    cfg_full = write_config(str(tmp_path / 'full.py'), tiny_seg_data, n, n, n)
    run_tool([mmseg_tool('train.py'), cfg_full, '--work-dir', full])

    # First half, then a fresh process that resumes from the half-way checkpoint.
    part = str(tmp_path / 'part')
    cfg_half = write_config(str(tmp_path / 'half.py'), tiny_seg_data, n // 2, n, n // 2)
    run_tool([mmseg_tool('train.py'), cfg_half, '--work-dir', part])
    cfg_rest = write_config(str(tmp_path / 'rest.py'), tiny_seg_data, n, n, n // 2)
    proc = run_tool([mmseg_tool('train.py'), cfg_rest, '--work-dir', part, '--resume'])
    assert f'resumed epoch: 0, iter: {n // 2}' in (proc.stdout + proc.stderr)

    a, b = final_weights(full, n), final_weights(part, n)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # The run did train: weights moved away from the half-way point.
    h = final_weights(part, n // 2)
    assert any(not torch.equal(h[k], b[k]) for k in b if b[k].is_floating_point())


def test_load_from_and_test_tool(tiny_seg_data, tmp_path):
    work = str(tmp_path / 'w')
    cfg = write_config(str(tmp_path / 'c.py'), tiny_seg_data, 2, 2, 2)
    run_tool([mmseg_tool('train.py'), cfg, '--work-dir', work])
    ckpt = osp.join(work, 'iter_2.pth')
    proc = run_tool([mmseg_tool('test.py'), cfg, ckpt, '--work-dir', work])
    assert 'mIoU' in proc.stdout + proc.stderr


def test_num_classes_mismatch_is_a_clear_error(tiny_seg_data, tmp_path):
    work = str(tmp_path / 'w')
    cfg = write_config(str(tmp_path / 'c.py'), tiny_seg_data, 2, 2, 2)
    run_tool([mmseg_tool('train.py'), cfg, '--work-dir', work])
    ckpt = osp.join(work, 'iter_2.pth')
    cfg5 = write_config(str(tmp_path / 'c5.py'), tiny_seg_data, 2, 2, 2, num_classes=5)
    proc = run_tool([mmseg_tool('test.py'), cfg5, ckpt], expect_ok=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'num_classes (5) disagrees with the checkpoint\'s (4)' in out
    assert ckpt in out


def test_shape_check_unit():
    import torch.nn as nn

    from mmsfda.compat import check_state_dict_shapes
    m = nn.Sequential(nn.Conv2d(3, 4, 1))
    check_state_dict_shapes(m, m.state_dict())
    bad = {'0.weight': torch.zeros(5, 3, 1, 1), '0.bias': torch.zeros(5)}
    with pytest.raises(ValueError, match=r'0.weight: checkpoint \(5, 3, 1, 1\), model \(4, 3, 1, 1\)'):
        check_state_dict_shapes(m, bad)
