"""CheckpointSelectionHook: records, the JSON file, logged picks, resume through the checkpoint."""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmsfda.engine.checkpoint_selection import spearman
from mmsfda.engine.hooks import CheckpointSelectionHook

# iter: (mIoU, ECE, EstECE, ClassECE)
CURVE = {1000: (40.0, 0.10, 0.09, 0.12), 2000: (42.0, 0.08, 0.07, 0.09),
         3000: (45.0, 0.07, 0.08, 0.08), 4000: (44.5, 0.05, 0.04, 0.05),
         5000: (38.0, 0.03, 0.05, 0.04)}


class FakeLogger:
    def __init__(self):
        self.lines, self.warnings = [], []

    def info(self, msg):
        self.lines.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)


def make_runner(tmp_path, resume=False):
    return SimpleNamespace(work_dir=str(tmp_path), iter=0, epoch=0, logger=FakeLogger(),
                           _resume=resume)


def metrics_at(it):
    miou, ece, est, true = CURVE[it]
    # values as mmengine hands them: floats, numpy and tensor scalars; non-scalars are dropped
    return {'aAcc': 90.0, 'mIoU': np.float64(miou), 'ECE': ece, 'EstECE': torch.tensor(est),
            'ClassECE': np.float32(true), 'per_class': [1.0, 2.0]}


def validate(hook, runner, it, save=True):
    """What the runner does: CheckpointHook saves iter_<it>.pth in after_train_iter, then the
    validation of iteration ``it`` ends with after_val_epoch."""
    runner.iter = it
    if save:
        with open(os.path.join(runner.work_dir, f'iter_{it}.pth'), 'wb') as f:
            f.write(b'ckpt')
    hook.after_val_epoch(runner, metrics_at(it))


def read_json(tmp_path):
    with open(tmp_path / 'checkpoint_selection.json') as f:
        return json.load(f)


def test_writes_records_and_picks(tmp_path):
    runner = make_runner(tmp_path)
    hook = CheckpointSelectionHook(
        rules=['min_ece', 'max_miou', 'min_ece_within_miou', 'min_est_ece'],
        compare=('min_est_ece', 'max_miou', 'mIoU'),
        correlate=[('EstECE', 'ClassECE'), ('EstECE', 'mIoU')])
    for it in CURVE:
        validate(hook, runner, it, save=it != 5000)  # no checkpoint for the last validation
        data = read_json(tmp_path)
        assert [r['iter'] for r in data['records']] == [i for i in CURVE if i <= it]

    assert not [p for p in os.listdir(tmp_path) if p.startswith('.tmp-')]
    records = data['records']
    assert records[0] == dict(iter=1000, checkpoint=str(tmp_path / 'iter_1000.pth'), metrics=dict(
        aAcc=90.0, mIoU=40.0, ECE=0.10, EstECE=pytest.approx(0.09), ClassECE=pytest.approx(0.12)))
    assert records[-1]['checkpoint'] is None
    picks = {k: (v and v['iter']) for k, v in data['picks'].items()}
    # 5000 has the lowest ECE but no checkpoint
    assert picks == dict(min_ece=4000, max_miou=3000, min_ece_within_miou=4000, min_est_ece=4000)
    assert data['comparison']['gap'] == pytest.approx(0.5)
    est = [v[2] for v in CURVE.values()]
    assert data['correlations'][0] == dict(
        x='EstECE', y='ClassECE', n=5,
        spearman=pytest.approx(spearman(est, [v[3] for v in CURVE.values()])))
    assert data['correlations'][1]['spearman'] == pytest.approx(
        spearman(est, [v[0] for v in CURVE.values()]))
    # the picks are logged after every validation
    assert len(runner.logger.lines) == 5
    last = runner.logger.lines[-1]
    assert 'min_ece_within_miou: iter 4000' in last and 'max_miou: iter 3000' in last
    assert 'spearman(EstECE, ClassECE)' in last and 'gap' in last
    assert not runner.logger.warnings


def test_missing_metric_warns_once_and_removed_files(tmp_path):
    runner = make_runner(tmp_path)
    hook = CheckpointSelectionHook(rules=['min_ece', dict(name='min_nll', key='NLL')])
    validate(hook, runner, 1000)
    validate(hook, runner, 2000)
    data = read_json(tmp_path)
    assert data['picks'] == {'min_ece': data['records'][1], 'min_nll': None}
    assert "'NLL'" in data['errors']['min_nll']
    assert len(runner.logger.warnings) == 1 and "'NLL'" in runner.logger.warnings[0]
    # max_keep_ckpts removed iter_2000.pth: the pick falls back, with a warning
    os.remove(tmp_path / 'iter_2000.pth')
    validate(hook, runner, 3000, save=False)
    assert read_json(tmp_path)['picks']['min_ece']['iter'] == 1000
    assert len(runner.logger.warnings) == 2 and 'max_keep_ckpts' in runner.logger.warnings[1]
    # a repeated validation of the same iteration replaces its record
    validate(hook, runner, 3000, save=False)
    assert [r['iter'] for r in read_json(tmp_path)['records']] == [1000, 2000, 3000]


def test_resume_round_trip(tmp_path):
    runner = make_runner(tmp_path)
    hook = CheckpointSelectionHook(rules=['min_ece', 'max_miou'])
    validate(hook, runner, 1000)
    validate(hook, runner, 2000)
    # iteration 3000: CheckpointHook saves first (with the records so far), then validation
    checkpoint = dict(meta=dict(iter=3000), state_dict={})
    hook.before_save_checkpoint(runner, checkpoint)
    validate(hook, runner, 3000)
    validate(hook, runner, 4000)  # the crashed run got further; the resume is from 3000
    assert [r['iter'] for r in checkpoint['checkpoint_selection']] == [1000, 2000]
    # the entry survives torch.save / weights_only loading (plain Python values only)
    torch.save(checkpoint, tmp_path / 'iter_3000.pth')
    checkpoint = torch.load(tmp_path / 'iter_3000.pth', weights_only=True)

    resumed = make_runner(tmp_path, resume=True)
    new = CheckpointSelectionHook(rules=['min_ece', 'max_miou'])
    new.after_load_checkpoint(resumed, checkpoint)
    # 1000, 2000 from the checkpoint, 3000 (validated after the save) from the JSON, not 4000
    assert [r['iter'] for r in new.records] == [1000, 2000, 3000]
    assert new.records == [r for r in hook.records if r['iter'] <= 3000]
    validate(new, resumed, 4000)
    validate(new, resumed, 5000)
    data = read_json(tmp_path)
    assert [r['iter'] for r in data['records']] == [1000, 2000, 3000, 4000, 5000]
    assert data['picks']['min_ece']['iter'] == 5000

    # without the JSON file the checkpoint's records are all there is
    os.remove(tmp_path / 'checkpoint_selection.json')
    alone = CheckpointSelectionHook(rules=['min_ece'])
    alone.after_load_checkpoint(resumed, checkpoint)
    assert [r['iter'] for r in alone.records] == [1000, 2000]
    # load_from (no resume), e.g. the source model of an adaptation: its records are ignored
    fresh = CheckpointSelectionHook(rules=['min_ece'])
    fresh.after_load_checkpoint(make_runner(tmp_path, resume=False), checkpoint)
    assert fresh.records == []


def test_checkpoint_hook_out_dir_and_template(tmp_path):
    from mmengine.hooks import CheckpointHook

    ckpt_hook = CheckpointHook(interval=1, by_epoch=False, filename_tmpl='model_{}.pth')
    ckpt_hook.out_dir = str(tmp_path / 'ckpts')
    os.makedirs(ckpt_hook.out_dir)
    runner = make_runner(tmp_path / 'work')
    runner.hooks = [ckpt_hook]
    runner.iter = 200
    (tmp_path / 'ckpts' / 'model_200.pth').write_bytes(b'x')
    assert CheckpointSelectionHook.checkpoint_path(runner) == str(tmp_path / 'ckpts' /
                                                                   'model_200.pth')
    runner.iter = 300
    assert CheckpointSelectionHook.checkpoint_path(runner) is None
    # by epoch: epoch_<n>.pth, runner.epoch is already n at the validation of epoch n
    by_epoch = CheckpointHook(interval=1, by_epoch=True)
    runner.hooks, runner.epoch, runner.work_dir = [by_epoch], 3, str(tmp_path / 'ckpts')
    (tmp_path / 'ckpts' / 'epoch_3.pth').write_bytes(b'x')
    assert CheckpointSelectionHook.checkpoint_path(runner) == str(tmp_path / 'ckpts' /
                                                                   'epoch_3.pth')


def test_config_and_priority():
    from mmengine.hooks import CheckpointHook
    from mmengine.runner.priority import get_priority
    from mmseg.registry import HOOKS

    hook = HOOKS.build(dict(type='CheckpointSelectionHook', rules=['min_est_ece', 'max_miou'],
                            compare=['min_est_ece', 'max_miou', 'mIoU']))
    assert isinstance(hook, CheckpointSelectionHook) and hook.compare == ('min_est_ece',
                                                                          'max_miou', 'mIoU')
    assert [r['name'] for r in CheckpointSelectionHook().rules] == [
        'min_ece', 'max_miou', 'min_ece_within_miou']
    assert get_priority(hook.priority) >= get_priority(CheckpointHook.priority)
    with pytest.raises(ValueError, match="'max_miou'"):
        CheckpointSelectionHook(rules=['min_ece'], compare=('min_ece', 'max_miou', 'mIoU'))
    with pytest.raises(ValueError, match='distinct'):
        CheckpointSelectionHook(rules=['min_ece', 'min_ece'])
    with pytest.raises(ValueError, match='unknown rule'):
        CheckpointSelectionHook(rules=['lowest_ece'])
    with pytest.raises(ValueError, match='pairs'):
        CheckpointSelectionHook(correlate=[('EstECE',)])
