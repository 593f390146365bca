"""Exact resume: a run killed and resumed ends with the weights of a run never interrupted.

Toy DACS (ClassMix, strong augmentation, rare class sampling and the EMA teacher are random), CBST
(killed at a round boundary, while labelling a round, and in the middle of a round) and Cal-SFDA
stage 3 (negative-learning ranks are random), each a few iterations on tiny images, in-process
(``Runner.from_cfg`` as mmseg's ``tools/train.py`` does), with the resume being the same config
plus ``resume=True`` and ``load_from`` left as it was (the source model).
"""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook

from conftest import REPO
from toy_self_training import (CBST, DACS, make_source_checkpoint, make_toy_data,
                               size_options)

CALSFDA = ('configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
           'toy-source-to-target-128x256.py')


class Killed(Exception):
    """Stands for the process being killed."""


class KillAfterIter(Hook):
    """Raise :class:`Killed` after iteration ``n`` (after its checkpoint, if one is due)."""
    priority = 'LOWEST'

    def __init__(self, n):
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.n:  # runner.iter: the 0-based index of the iteration just run
            raise Killed


class KillWhileLabelling(Hook):
    """After iteration ``n``, raise :class:`Killed` when the ``k``-th image is loaded: the loop is
    then labelling the next round (it loads the target set with the label dataloader)."""
    priority = 'LOWEST'

    def __init__(self, n, k, monkeypatch):
        self.n, self.k, self.monkeypatch = n, k, monkeypatch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 != self.n:
            return
        from mmsfda.datasets.transforms.checked_loading import CheckedLoadImageFromFile
        load, loaded = CheckedLoadImageFromFile.transform, []

        def killing(transform, results):
            loaded.append(results['img_path'])
            if len(loaded) == self.k:
                raise Killed
            return load(transform, results)
        self.monkeypatch.setattr(CheckedLoadImageFromFile, 'transform', killing)


def _small_loaders(node, target_root):
    """Every dataloader in the config: batch 2, no workers, data under ``target_root``."""
    if isinstance(node, dict):
        if 'dataset' in node and 'batch_size' in node:
            node.update(batch_size=2, num_workers=0, persistent_workers=False)
        if isinstance(node.get('data_root'), str) and node['data_root'].startswith('data/toy'):
            node['data_root'] = target_root + node['data_root'][len('data/toy'):]
        for v in node.values():
            _small_loaders(v, target_root)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _small_loaders(v, target_root)


def make_cfg(config, data, work_dir, options=(), resume=False, validate=False):
    cfg = Config.fromfile(osp.join(REPO, config))
    sizes = [o for o in size_options() if 'student' in cfg.model or '.student.' not in o]
    opts = dict(o.split('=', 1) for o in [*sizes, *options])
    cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in opts.items()})
    _small_loaders(cfg._cfg_dict, data)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'resume_{uuid.uuid4().hex}'
    cfg.randomness = dict(seed=0)
    if not validate:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.update(save_best=None, rule=None, max_keep_ckpts=-1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h['type'] != 'CheckpointSelectionHook']
    cfg.default_hooks.pop('checkpoint_selection', None)
    cfg.resume = resume
    return cfg


def train(cfg, hooks=()):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    for hook in hooks:  # (a hook object in the config would break its text dump)
        runner.register_hook(hook)
    runner.train()
    return runner


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def differing(a_path, b_path):
    a, b = weights(a_path), weights(b_path)
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    return make_toy_data(str(root)), root


# ------------------------------------------------------------------ DACS
DACS_ITERS = 6


def dacs_cfg(toy, work, source, **kwargs):
    data, _ = toy
    opts = [f'load_from={source}', f'train_cfg.max_iters={DACS_ITERS}',
            'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=3',
            f'param_scheduler.0.end={DACS_ITERS}',
            'train_dataloader.dataset.rare_class_sampling.min_pixels=10']
    return make_cfg(DACS, data, work, opts, **kwargs)


@pytest.fixture(scope='module')
def dacs_reference(toy):
    data, root = toy
    source = make_source_checkpoint(str(root / 'dacs_source.pth'), config=DACS)
    work = root / 'dacs_reference'
    train(dacs_cfg(toy, work, source))
    return source, str(work)


def test_dacs_killed_mid_training(toy, dacs_reference, tmp_path):
    """Killed after iteration 4 (the last checkpoint is iteration 3's), resumed with load_from
    still set: iterations 4-6 again equal the uninterrupted run's, teacher and student."""
    source, reference = dacs_reference
    work = tmp_path / 'dacs'
    with pytest.raises(Killed):
        train(dacs_cfg(toy, work, source), hooks=[KillAfterIter(4)])
    assert osp.isfile(work / 'iter_3.pth') and not osp.exists(work / 'iter_6.pth')
    runner = train(dacs_cfg(toy, work, source, resume=True))
    assert runner.iter == DACS_ITERS
    final = osp.join(reference, f'iter_{DACS_ITERS}.pth')
    # the run is random and trains: the two halves differ, and differ from the source model
    assert differing(osp.join(reference, 'iter_3.pth'), final)
    diff = differing(final, str(work / f'iter_{DACS_ITERS}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


# ------------------------------------------------------------------ a kill while writing a checkpoint
def test_kill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    """``max_keep_ckpts=1`` and a kill while iteration 3's checkpoint is half written: iteration
    2's checkpoint and ``last_checkpoint`` are intact (mmengine 0.10.7 deletes the old checkpoint
    before writing the new one, and writes in place), and resuming ends as the uninterrupted run."""
    import io

    from mmengine.hooks import CheckpointHook

    from toy_runner import make_runner
    n = 4
    make_runner(tmp_path / 'reference', n, [], ckpt_interval=1).train()

    def keep_one(runner):
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook):
                hook.max_keep_ckpts = 1
        return runner

    save = torch.save

    def dies_while_writing_iter_3(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get('meta', {}).get('iter') == 3:
            buf = io.BytesIO()
            save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            raise Killed
        return save(obj, f, *args, **kwargs)

    work = tmp_path / 'work'
    monkeypatch.setattr(torch, 'save', dies_while_writing_iter_3)
    with pytest.raises(Killed):
        keep_one(make_runner(work, n, [], ckpt_interval=1)).train()
    monkeypatch.setattr(torch, 'save', save)
    assert sorted(p.name for p in work.iterdir() if p.suffix == '.pth') == ['iter_2.pth']
    assert [p.name for p in work.iterdir() if p.name.startswith('.tmp')] == []
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    weights(str(work / 'iter_2.pth'))  # complete

    resumed = keep_one(make_runner(work, n, [], ckpt_interval=1))
    resumed._resume = True  # the same command plus --resume
    resumed.train()
    assert resumed.iter == n
    diff = differing(str(tmp_path / 'reference' / f'iter_{n}.pth'), str(work / f'iter_{n}.pth'))
    assert not diff, diff


# ------------------------------------------------------------------ CBST (rounds)
CBST_ROUNDS = (2, 2)


def cbst_cfg(toy, work, source, **kwargs):
    data, _ = toy
    n = sum(CBST_ROUNDS)
    opts = [f'load_from={source}', f'train_cfg.rounds=[{",".join(map(str, CBST_ROUNDS))}]',
            'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=1',
            f'param_scheduler.0.end={n}']
    return make_cfg(CBST, data, work, opts, **kwargs)


@pytest.fixture(scope='module')
def cbst_reference(toy):
    data, root = toy
    source = make_source_checkpoint(str(root / 'cbst_source.pth'), config=CBST)
    work = root / 'cbst_reference'
    train(cbst_cfg(toy, work, source))
    return source, str(work)


@pytest.mark.parametrize('kill', ['round_boundary', 'labelling', 'mid_round'])
def test_cbst_killed(toy, cbst_reference, tmp_path, monkeypatch, kill):
    """Killed right after round 0 (its last checkpoint), while labelling round 1 (pass 2, after a
    batch of files is written) or in the middle of round 1; resumed with load_from still set."""
    source, reference = cbst_reference
    work = tmp_path / 'cbst'
    hook = dict(round_boundary=KillAfterIter(2), mid_round=KillAfterIter(3),
                # 4 images in pass 1 (class statistics), 2 labelled and written, then killed
                labelling=KillWhileLabelling(2, 4 + 3, monkeypatch))[kill]
    with pytest.raises(Killed):
        train(cbst_cfg(toy, work, source), hooks=[hook])
    monkeypatch.undo()
    n = sum(CBST_ROUNDS)
    assert not osp.exists(work / f'iter_{n}.pth')
    runner = train(cbst_cfg(toy, work, source, resume=True))
    assert runner.iter == n
    final = osp.join(reference, f'iter_{n}.pth')
    assert differing(osp.join(reference, 'iter_2.pth'), final)  # round 1 trains
    diff = differing(final, str(work / f'iter_{n}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


# ------------------------------------------------------------------ Cal-SFDA stage 3
def calsfda_cfg(toy, work, value_ckpt, **kwargs):
    data, _ = toy
    cfg = make_cfg(CALSFDA, data, work, [
        f'load_from={value_ckpt}', 'train_cfg.rounds=[2,2]', 'train_cfg.val_interval=1000',
        'default_hooks.checkpoint.interval=1', 'param_scheduler.0.step_size=2',
        'param_scheduler.0.end=4'], **kwargs)
    # the phase switch (norm layers, then the decoder) at iteration 1
    cfg.default_hooks.trainable_schedule.phases.decoder.begin = 1
    return cfg


def test_calsfda_stage3_killed_mid_round(toy, tmp_path):
    """Negative-learning ranks are random: killed after iteration 3 (mid round 1, after the phase
    switch), resumed with load_from still set, the weights equal the uninterrupted run's."""
    data, root = toy
    value_ckpt = make_source_checkpoint(str(root / 'calsfda_stage2.pth'), config=CALSFDA)
    reference = tmp_path / 'reference'
    train(calsfda_cfg(toy, reference, value_ckpt))
    work = tmp_path / 'work'
    with pytest.raises(Killed):
        train(calsfda_cfg(toy, work, value_ckpt), hooks=[KillAfterIter(3)])
    runner = train(calsfda_cfg(toy, work, value_ckpt, resume=True))
    assert runner.iter == 4
    assert differing(str(reference / 'iter_3.pth'), str(reference / 'iter_4.pth'))
    diff = differing(str(reference / 'iter_4.pth'), str(work / 'iter_4.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


# ------------------------------------------------------------------ AdvEnt: two optimisers
ADVENT = 'configs/advent/advent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'


def advent_cfg(toy, work, source, **kwargs):
    data, _ = toy
    opts = [f'load_from={source}', f'train_cfg.max_iters={DACS_ITERS}',
            'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=3',
            *(f'param_scheduler.{g}.0.end={DACS_ITERS}' for g in ('student', 'discriminator'))]
    return make_cfg(ADVENT, data, work, opts, **kwargs)


def optimizer_states_differ(a_path, b_path):
    """Names of the optimisers (``student``, ``discriminator``) whose state or hyper-parameters
    differ between the two checkpoints."""
    a, b = (torch.load(p, map_location='cpu', weights_only=False)['optimizer'] for p in (a_path, b_path))
    assert a.keys() == b.keys()

    def same(x, y):
        if isinstance(x, torch.Tensor):
            return torch.equal(x, y)
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        return x == y
    return [name for name in a if not same(a[name], b[name])]


def test_advent_killed_mid_training(toy, tmp_path):
    """AdvEnt (segmenter SGD + discriminator Adam, ``OptimWrapperDict``) killed after iteration 4
    and resumed: the student, the discriminator and both optimisers' states (Adam moments, SGD
    momentum, learning rates) equal those of the uninterrupted run."""
    _, root = toy
    source = make_source_checkpoint(str(root / 'advent_source.pth'), config=ADVENT)
    reference = tmp_path / 'reference'
    train(advent_cfg(toy, reference, source))
    work = tmp_path / 'advent'
    with pytest.raises(Killed):
        train(advent_cfg(toy, work, source), hooks=[KillAfterIter(4)])
    assert osp.isfile(work / 'iter_3.pth') and not osp.exists(work / 'iter_6.pth')
    runner = train(advent_cfg(toy, work, source, resume=True))
    assert runner.iter == DACS_ITERS
    final, resumed = reference / f'iter_{DACS_ITERS}.pth', work / f'iter_{DACS_ITERS}.pth'
    trained = differing(reference / 'iter_3.pth', final)
    assert any(k.startswith('aux.') for k in trained) and any(
        k.startswith('student.') for k in trained), 'both players train'
    diff = differing(final, resumed)
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'
    assert optimizer_states_differ(reference / 'iter_3.pth', final) == ['student', 'discriminator']
    assert not optimizer_states_differ(final, resumed)
