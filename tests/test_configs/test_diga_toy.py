"""DiGA's toy stages through mmseg's own tools/train.py (tools/run_stages.py), shortened, and
exact resume of the warm-up and of each self-training round, and the bad-input errors (prototypes
of another class count or feature size, a missing offline label)."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
from test_exact_resume import KillAfterIter, Killed, differing, make_cfg, train  # noqa: E402
from toy_self_training import make_toy_data  # noqa: E402

RUN = osp.join(REPO, 'tools', 'run_stages.py')
STAGES = osp.join(REPO, 'configs', 'diga', 'stages_toy.py')
WARMUP = ('configs/diga/diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_'
          'toy-source-to-target-128x256.py')
DG = 'configs/diga/diga-warmup-dg_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-128x256.py'
SELFTRAIN = ('configs/diga/diga-selftrain_deeplabv2-proda_r18-tiny_1xb4-2x50_'
             'toy-source-to-target-128x256.py')


def loader(prefix):
    return [f'{prefix}.batch_size=2', f'{prefix}.num_workers=0',
            f'{prefix}.persistent_workers=False']


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp('diga')
    data = make_toy_data(str(root))
    work = str(root / 'run')
    size = ['data_preprocessor.size=[64,128]', 'model.student.data_preprocessor.size=[64,128]']
    warmup = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=2', *loader('train_dataloader')]
    selftrain = ['train_cfg.rounds=[1,1]', 'train_cfg.val_interval=2',
                 'default_hooks.checkpoint.interval=1',
                 'default_hooks.pseudo_label_stats.interval=1',
                 *loader('train_dataloader'), *loader('train_cfg.label_dataloader'),
                 *loader('default_hooks.prototype_init.dataloader')]
    options = [*size, 'default_hooks.logger.interval=1', *loader('val_dataloader'),
               *(f'warmup:{o}' for o in warmup), *(f'selftrain:{o}' for o in selftrain)]
    cmd = [sys.executable, RUN, STAGES, '--work-dir', work, '--seed', '0', '--data-root', data,
           '--cfg-options', *options]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = {s: open(f'{work}/{s}/train.log').read() for s in ('warmup', 'selftrain')
            if osp.isfile(f'{work}/{s}/train.log')}
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + str(logs)[-3000:]
    return data, work, logs, root


def test_stages_run_end_to_end(pipeline):
    data, work, logs, _ = pipeline
    assert 'src.loss_kd' in logs['warmup'] and 'src.decode.loss_ce' in logs['warmup']
    log = logs['selftrain']
    assert 'PrototypeInitHook: prototypes of' in log
    assert 'tgt.loss_mix_ce' in log and 'pl_coverage' in log
    for r in (0, 1):  # offline labels of every round, multi-scale max fusion, every pixel
        with open(f'{work}/selftrain/pseudo_labels/round_{r}/manifest.json') as f:
            manifest = json.load(f)
        assert manifest['identity']['tta']['scales'] == [1.0, 0.5]
        assert manifest['identity']['tta']['fusion'] == 'max'
        assert manifest['stats']['coverage'] == 1
    state = torch.load(f'{work}/selftrain/iter_2.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert bool(state['aux.prototypes.initialized']) and state['aux.prototypes.centroids'].shape \
        == (10, 32)


@pytest.mark.parametrize('option, shapes', [
    ('model.aux.prototypes.num_classes=5', r'checkpoint \(10, 32\), model \(5, 32\)'),
    ('model.aux.prototypes.feat_dim=16', r'checkpoint \(10, 32\), model \(10, 16\)'),
])
def test_prototypes_of_another_class_count_or_feature_size_are_a_clear_error(pipeline, tmp_path,
                                                                             option, shapes):
    data, work, _, root = pipeline
    cfg = make_cfg(SELFTRAIN, data, tmp_path / 'w', [
        f'load_from={work}/selftrain/iter_2.pth', 'train_cfg.rounds=[1,1]', option])
    with pytest.raises(ValueError, match=r'iter_2.pth does not fit[\s\S]*aux.prototypes.centroids: '
                       + shapes):
        train(cfg)


def test_a_missing_offline_label_is_a_clear_error(pipeline, tmp_path):
    """A complete round directory (same warm-up model, same data: reused as is) with one label
    file deleted: the error names the label file and its image."""
    data, work, _, _ = pipeline
    run = tmp_path / 'st'
    shutil.copytree(f'{work}/selftrain/pseudo_labels/round_0', run / 'pseudo_labels' / 'round_0')
    labels = sorted(glob.glob(str(run / 'pseudo_labels' / 'round_0' / '*.png')))
    assert labels
    os.remove(labels[0])
    cfg = make_cfg(SELFTRAIN, data, run, [f'load_from={work}/warmup/iter_2.pth',
                                         'train_cfg.rounds=[4,1]', 'param_scheduler.0.end=5',
                                         'train_cfg.val_interval=1000'])
    with pytest.raises(FileNotFoundError, match=rf'{labels[0]}[\s\S]*pseudo-label of image '):
        train(cfg)


def _same_run(cfg_fn, n, kill_after, work_ref, work):
    train(cfg_fn(work_ref))
    with pytest.raises(Killed):
        train(cfg_fn(work), hooks=[KillAfterIter(kill_after)])
    assert not osp.exists(work / f'iter_{n}.pth')
    runner = train(cfg_fn(work, resume=True))
    assert runner.iter == n
    final = str(work_ref / f'iter_{n}.pth')
    assert differing(str(work_ref / f'iter_{n // 2}.pth'), final)  # it trains
    diff = differing(final, str(work / f'iter_{n}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


def test_warmup_and_selftrain_resume_exactly(pipeline, tmp_path):
    """Warm-up killed after iteration 3 (checkpoint at 2); self-training (rounds [2, 2]) killed
    in its second round (after iteration 3) and, in another run, in its first round (after
    iteration 1): each resumed run ends with the uninterrupted run's weights, prototypes
    included."""
    data, _, _, _ = pipeline

    def warmup_cfg(work, resume=False):
        return make_cfg(WARMUP, data, work, ['train_cfg.max_iters=4', 'param_scheduler.0.end=4',
                                             'train_cfg.val_interval=1000',
                                             'default_hooks.checkpoint.interval=2'], resume=resume)

    _same_run(warmup_cfg, 4, 3, tmp_path / 'w_ref', tmp_path / 'w')
    start = str(tmp_path / 'w_ref' / 'iter_4.pth')

    def st_cfg(work, resume=False):
        return make_cfg(SELFTRAIN, data, work, [
            f'load_from={start}', 'train_cfg.rounds=[2,2]', 'param_scheduler.0.end=4',
            'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=1'], resume=resume)

    _same_run(st_cfg, 4, 3, tmp_path / 's_ref', tmp_path / 's')
    # Killed in the first round too (after iteration 1, before round 2 is labelled).
    with pytest.raises(Killed):
        train(st_cfg(tmp_path / 's1'), hooks=[KillAfterIter(1)])
    train(st_cfg(tmp_path / 's1', resume=True))
    diff = differing(str(tmp_path / 's_ref' / 'iter_4.pth'), str(tmp_path / 's1' / 'iter_4.pth'))
    assert not diff, f'{len(diff)} tensors differ after a kill in round 1: {diff[:5]}'
    centroids = [torch.load(str(tmp_path / 's_ref' / f'iter_{i}.pth'), map_location='cpu',
                            weights_only=False)['state_dict']['aux.prototypes.centroids']
                 for i in (1, 4)]
    assert not torch.equal(*centroids)  # the prototypes move (EMA) and are compared above


def test_dg_warmup_reads_no_target_data(pipeline, tmp_path, monkeypatch):
    """The domain-generalisation warm-up trains on source images only."""
    data, _, _, _ = pipeline
    from mmsfda.datasets.transforms.checked_loading import CheckedLoadImageFromFile
    load, read = CheckedLoadImageFromFile.transform, []

    def recording(transform, results):
        read.append(results['img_path'])
        return load(transform, results)

    monkeypatch.setattr(CheckedLoadImageFromFile, 'transform', recording)
    train(make_cfg(DG, data, tmp_path / 'dg', ['train_cfg.max_iters=2',
                                                 'train_cfg.val_interval=1000']))
    assert read and all('/source/' in p for p in read)
