"""Cal-SFDA's three toy stages through mmseg's own tools/train.py (tools/run_calsfda.py), shortened."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from mmsfda.utils import mmseg_tool_path

RUN = osp.join(REPO, 'tools', 'run_calsfda.py')
S3 = 'configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'


def loader(prefix, root):
    return [f'{prefix}.batch_size=2', f'{prefix}.num_workers=0',
            f'{prefix}.persistent_workers=False', f'{prefix}.dataset.data_root={root}']


def stage_options(data):
    src, tgt = f'{data}/source', f'{data}/target'
    s1 = ['train_cfg.max_iters=2', 'train_cfg.val_interval=1',
          'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
          *loader('train_dataloader', src), *loader('val_dataloader', src)]
    s2 = ['train_cfg.max_iters=2', 'train_cfg.val_interval=1',
          'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
          *loader('train_dataloader', src), *loader('val_dataloader', src)]
    s3 = ['train_cfg.rounds=[2,2]', 'train_cfg.val_interval=2',
          'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
          'custom_hooks.2.phases.1.begin=2',
          *loader('train_dataloader', tgt), *loader('val_dataloader', tgt),
          *loader('train_cfg.label_dataloader', tgt), *loader('custom_hooks.0.dataloader', tgt)]
    return s1, s2, s3


def run_pipeline(work, data):
    s1, s2, s3 = stage_options(data)
    cmd = [sys.executable, RUN, '--benchmark', 'toy', '--work-dir', work, '--seed', '0',
           '--stage1-options', *s1, '--stage2-options', *s2, '--stage3-options', *s3]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = ''.join(open(f).read() for f in glob.glob(f'{work}/stage*/train.log'))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + logs[-3000:]
    return json.loads(proc.stdout[proc.stdout.index('{'):]), logs


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp('calsfda')
    data = str(root / 'data')
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', data, '--num-train', '4',
                    '--num-val', '2', '--no-progress'], cwd=REPO, check=True, capture_output=True)
    work = str(root / 'run')
    summary, logs = run_pipeline(work, data)
    return data, work, summary, logs


def test_three_stages_run_end_to_end(pipeline):
    data, work, summary, logs = pipeline
    # stage 1: ECE loss, every validation recorded, each rule's pick written
    assert 'decode.loss_ece' in logs
    assert set(summary['source_picks']) == {'min_ece', 'max_miou', 'min_ece_within_miou'}
    assert osp.dirname(summary['source_checkpoint']) == osp.join(work, 'stage1')
    # stage 2: the value net regresses the class-level ECE; the CE is logged, not optimised
    assert 'value.loss_mse' in logs and 'decode.ce' in logs
    value = torch.load(summary['value_checkpoint'], map_location='cpu', weights_only=False)
    assert 'value_head.fc.weight' in value['state_dict']
    # stage 3: warm-up, two labelled rounds with growing proportions, the three losses
    assert 'BN statistics warm-up' in logs
    for r in (0, 1):
        with open(f'{work}/stage3/pseudo_labels/round_{r}/manifest.json') as f:
            manifest = json.load(f)
        assert manifest['labeler_state']['round'] == r
        assert 0 < manifest['stats']['coverage'] <= 1
    for key in ('tgt.loss_sce', 'tgt.loss_nl', 'tgt.loss_robust_entropy'):
        assert key in logs
    assert glob.glob(f'{work}/stage3/best_EstECE_iter_*.pth')
    # label-free vs oracle selection, and the correlation of estimated and true ECE
    assert set(summary['target_picks']) == {'label_free', 'oracle'}
    assert summary['target_picks']['label_free']['metrics']['EstECE'] >= 0
    assert summary['target_comparison'] is not None


def test_every_stage_resumes(pipeline):
    data, work, summary, _ = pipeline
    for stage, last, final in (('stage1', 1, 2), ('stage2', 1, 2), ('stage3', 2, 4)):
        os.remove(f'{work}/{stage}/iter_{final}.pth')
        with open(f'{work}/{stage}/last_checkpoint', 'w') as f:
            f.write(f'{work}/{stage}/iter_{last}.pth')
    again, logs = run_pipeline(work, data)
    assert logs.count('resumed checkpoint') >= 3 or logs.count('Auto resumed') >= 3 or \
        logs.count('resumed') >= 3, logs[-3000:]
    for stage, final in (('stage1', 2), ('stage2', 2), ('stage3', 4)):
        assert osp.isfile(f'{work}/{stage}/iter_{final}.pth')
    with open(f'{work}/stage1/checkpoint_selection.json') as f:
        records = json.load(f)['records']
    assert [r['iter'] for r in records] == [1, 2]  # continued, not restarted or duplicated
    assert again['source_checkpoint'] == summary['source_checkpoint']


def test_empty_target_set_is_a_clear_error(pipeline, tmp_path):
    data, work, summary, _ = pipeline
    empty = tmp_path / 'empty'
    (empty / 'images' / 'train').mkdir(parents=True)
    *_, s3 = stage_options(data)
    s3 = [o.replace(f'{data}/target', str(empty)) if 'val_dataloader' not in o else o for o in s3]
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, S3), '--work-dir',
           str(tmp_path / 'w'), '--cfg-options', f'load_from={summary["value_checkpoint"]}', *s3]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    # the dataset (ToyCityDataset) or, for datasets that accept an empty folder, the loop's check
    assert re.search(r'holds no \*\.png image|has no images', out) and str(empty) in out


def test_stage3_refuses_a_checkpoint_without_value_net(pipeline, tmp_path):
    data, work, summary, _ = pipeline
    *_, s3 = stage_options(data)
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, S3), '--work-dir',
           str(tmp_path / 'w'), '--cfg-options', f'load_from={summary["source_checkpoint"]}', *s3]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    assert 'holds no value net' in out and summary['source_checkpoint'] in out


def test_missing_stage_checkpoint_is_a_clear_error(tmp_path):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from run_calsfda import picked_checkpoint
    with pytest.raises(FileNotFoundError, match='CheckpointSelectionHook'):
        picked_checkpoint(str(tmp_path), 'min_ece')
    missing = str(tmp_path / 'iter_9.pth')
    with open(tmp_path / 'checkpoint_selection.json', 'w') as f:
        json.dump(dict(picks=dict(min_ece=dict(iter=9, metrics={}, checkpoint=missing))), f)
    with pytest.raises(FileNotFoundError, match='iter_9.pth'):
        picked_checkpoint(str(tmp_path), 'min_ece')
    with pytest.raises(ValueError, match='max_miou'):
        picked_checkpoint(str(tmp_path), 'max_miou')
