"""Cal-SFDA's three toy stages through mmseg's own tools/train.py (tools/run_stages.py), shortened."""
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

RUN = osp.join(REPO, 'tools', 'run_stages.py')
STAGES = osp.join(REPO, 'configs', 'calsfda', 'stages_toy.py')
S3 = 'configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'
S3_BACKBONE_ONLY = ('configs/calsfda/calsfda-s3-adapt-backbone-only_deeplabv2_r18-tiny_1xb4-2x200_'
                    'toy-source-to-target-128x256.py')


def loader(prefix):
    return [f'{prefix}.batch_size=2', f'{prefix}.num_workers=0',
            f'{prefix}.persistent_workers=False']


def stage_options(data):
    """Shortened schedules, one option list per stage (data roots: moved by --data-root)."""
    s1 = ['train_cfg.max_iters=2', 'train_cfg.val_interval=1',
          'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
          *loader('train_dataloader'), *loader('val_dataloader')]
    s2 = list(s1)
    s3 = ['train_cfg.rounds=[2,2]', 'train_cfg.val_interval=2',
          'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
          'default_hooks.trainable_schedule.phases.decoder.begin=2',
          *loader('train_dataloader'), *loader('val_dataloader'),
          *loader('train_cfg.label_dataloader'), *loader('default_hooks.bn_warmup.dataloader')]
    return s1, s2, s3


def s3_options_with_data(data):
    """Stage-3 options for a direct tools/train.py call (no --data-root there)."""
    tgt = f'{data}/target'
    return [*stage_options(data)[2],
            *(f'{p}.dataset.data_root={tgt}' for p in (
                'train_dataloader', 'val_dataloader', 'train_cfg.label_dataloader',
                'default_hooks.bn_warmup.dataloader'))]


def run_pipeline(work, data):
    options = [f'{name}:{o}' for name, opts in zip(('source', 'value', 'adapt'),
                                                   stage_options(data)) for o in opts]
    cmd = [sys.executable, RUN, STAGES, '--work-dir', work, '--seed', '0', '--data-root', data,
           '--cfg-options', *options]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = ''.join(open(f).read() for f in sorted(glob.glob(f'{work}/*/train.log')))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + logs[-3000:]
    with open(osp.join(work, 'summary.json')) as f:
        stages = json.load(f)['stages']
    return dict(source_picks=stages['source']['picks'],
                source_checkpoint=stages['source']['checkpoint'],
                value_checkpoint=stages['value']['checkpoint'],
                target_picks=stages['adapt']['picks'],
                target_comparison=stages['adapt'].get('comparison')), logs


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
    assert osp.dirname(summary['source_checkpoint']) == osp.join(work, 'source')
    # stage 2: the value net regresses the class-level ECE; the CE is logged, not optimised
    assert 'value.loss_mse' in logs and 'decode.ce' in logs
    value = torch.load(summary['value_checkpoint'], map_location='cpu', weights_only=False)
    assert 'value_head.fc.weight' in value['state_dict']
    # the default value net reads the decoder's output too
    assert 'value_head.decoder_conv.weight' in value['state_dict']
    # stage 3: warm-up, two labelled rounds with growing proportions, the three losses
    assert 'BN statistics warm-up' in logs
    # the value net's BN statistics re-estimated before each of the two validations (iters 2, 4)
    for it in (2, 4):
        assert f're-estimated on the warm-up data before the validation at iteration {it}' in logs
    for r in (0, 1):
        with open(f'{work}/adapt/pseudo_labels/round_{r}/manifest.json') as f:
            manifest = json.load(f)
        assert manifest['labeler_state']['round'] == r
        assert 0 < manifest['stats']['coverage'] <= 1
    for key in ('tgt.loss_sce', 'tgt.loss_nl', 'tgt.loss_robust_entropy'):
        assert key in logs
    assert glob.glob(f'{work}/adapt/best_EstECE_iter_*.pth')
    # label-free vs oracle selection, and the correlation of estimated and true ECE
    assert set(summary['target_picks']) == {'label_free', 'oracle'}
    with open(f'{work}/adapt/checkpoint_selection.json') as f:
        records = json.load(f)['records']
    assert [r['iter'] for r in records] == [2, 4]
    assert all({'EstECE', 'ClassECE', 'mIoU'} <= set(r['metrics']) for r in records)
    lowest = min(records, key=lambda r: r['metrics']['EstECE'])
    assert summary['target_picks']['label_free']['iter'] == lowest['iter']
    assert summary['target_comparison']['gap'] == pytest.approx(
        summary['target_picks']['oracle']['metrics']['mIoU'] - lowest['metrics']['mIoU'])


def test_interrupted_stage3_resumes_and_finished_stages_are_reused(pipeline):
    """Stage 3 killed after its first validation: the rerun of the same command resumes it from
    iter_2.pth (its selection records continue, not restart), and stages 1-2 are not run again."""
    data, work, summary, _ = pipeline
    os.remove(f'{work}/adapt/iter_4.pth')
    with open(f'{work}/adapt/last_checkpoint', 'w') as f:
        f.write(f'{work}/adapt/iter_2.pth')

    def log(stage):
        with open(f'{work}/{stage}/train.log') as f:
            return f.read()

    before = {stage: log(stage) for stage in ('source', 'value', 'adapt')}
    again, _ = run_pipeline(work, data)
    for stage in ('source', 'value'):
        assert log(stage) == before[stage], f'{stage} ran again'
    new = log('adapt')[len(before['adapt']):]
    assert re.search(r'resumed epoch: \d+, iter: 2\b', new), new[-3000:]
    assert 'Iter(train) [1/' not in new and 'Iter(train) [3/' in new
    assert osp.isfile(f'{work}/adapt/iter_4.pth')
    with open(f'{work}/adapt/checkpoint_selection.json') as f:
        records = json.load(f)['records']
    assert [r['iter'] for r in records] == [2, 4]  # continued, not restarted or duplicated
    assert again['value_checkpoint'] == summary['value_checkpoint']


def test_empty_target_set_is_a_clear_error(pipeline, tmp_path):
    data, work, summary, _ = pipeline
    empty = tmp_path / 'empty'
    (empty / 'images' / 'train').mkdir(parents=True)
    s3 = s3_options_with_data(data)
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
    s3 = s3_options_with_data(data)
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, S3), '--work-dir',
           str(tmp_path / 'w'), '--cfg-options', f'load_from={summary["source_checkpoint"]}', *s3]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    assert 'holds no value net' in out and summary['source_checkpoint'] in out


def test_backbone_only_stage3_refuses_a_decoder_aware_value_net(pipeline, tmp_path):
    """The public code's value net (backbone only) cannot load the default stage-2 value net:
    the error names the checkpoint and the setting to change."""
    data, work, summary, _ = pipeline
    s3 = s3_options_with_data(data)
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, S3_BACKBONE_ONLY),
           '--work-dir', str(tmp_path / 'w'), '--cfg-options',
           f'load_from={summary["value_checkpoint"]}', *s3]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stderr + proc.stdout
    assert 'reads the decoder output too' in out and 'use_decoder=True' in out
    assert summary['value_checkpoint'] in out


def test_missing_stage_checkpoint_is_a_clear_error(tmp_path):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from run_stages import picked_checkpoint
    with pytest.raises(FileNotFoundError, match='CheckpointSelectionHook'):
        picked_checkpoint(str(tmp_path), 'min_ece')
    missing = str(tmp_path / 'iter_9.pth')
    with open(tmp_path / 'checkpoint_selection.json', 'w') as f:
        json.dump(dict(picks=dict(min_ece=dict(iter=9, metrics={}, checkpoint=missing))), f)
    with pytest.raises(FileNotFoundError, match='iter_9.pth'):
        picked_checkpoint(str(tmp_path), 'min_ece')
    with pytest.raises(ValueError, match='max_miou'):
        picked_checkpoint(str(tmp_path), 'max_miou')
