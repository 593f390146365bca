"""SelfTrainingLoop: round bookkeeping, a round's files, resume after kills, the CBST config."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction

from conftest import REPO
from mmsfda.engine import pseudo_labeling as stl
from mmsfda.engine.loops.self_training_loop import SelfTrainingLoop, round_at, round_starts
from mmsfda.models.pseudo_labelers.class_balanced_labeler import ClassBalancedLabeler
from mmsfda.utils import mmseg_tool_path
from toy_self_training import CBST, cbst_options, make_source_checkpoint, make_toy_data

ROUNDS = (1, 2)  # three iterations: round 1 is long enough to be killed in the middle
STEMS = [f'{i:05d}' for i in range(4)]


class Killed(Exception):
    """Stands for the process being killed."""


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_data(str(tmp_path_factory.mktemp('toy')))


def make_cfg(data, work_dir, rounds=ROUNDS, resume=False, **options):
    """The CBST config as tools/train.py would build it, tiny, without validation."""
    cfg = Config.fromfile(osp.join(REPO, CBST))
    opts = dict(o.split('=', 1) for o in cbst_options(data, rounds))
    cfg.merge_from_dict({k: DictAction._parse_iterable(v) for k, v in opts.items()})
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'cbst_{uuid.uuid4().hex}'
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.update(save_best=None, rule=None)
    cfg.resume = resume
    return cfg


def train(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def round_files(work_dir, r):
    d = osp.join(work_dir, 'pseudo_labels', f'round_{r}')
    return {osp.basename(p): open(p, 'rb').read() for p in sorted(glob.glob(f'{d}/*.png'))}


def manifest(work_dir, r):
    with open(osp.join(work_dir, 'pseudo_labels', f'round_{r}', 'manifest.json')) as f:
        return json.load(f)


def final_state(work_dir, it=sum(ROUNDS)):
    return torch.load(osp.join(work_dir, f'iter_{it}.pth'), map_location='cpu',
                      weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def reference(toy, tmp_path_factory):
    """An uninterrupted run."""
    work = str(tmp_path_factory.mktemp('reference'))
    train(make_cfg(toy, work))
    return work


def test_round_bookkeeping():
    assert round_starts([200, 100]) == [0, 200, 300]
    assert [round_at(i, [2, 3]) for i in range(6)] == [0, 0, 1, 1, 1, 2]
    assert round_at(10, [2, 3]) == 2


@pytest.mark.parametrize('train_cfg, match', [
    (dict(rounds=[]), 'rounds must be'),
    (dict(rounds=[2, 0]), 'rounds must be'),
    (dict(rounds=[2, 2], max_iters=5), 'sum to 4'),
])
def test_loop_arguments(toy, tmp_path, train_cfg, match):
    from mmengine.runner import Runner
    cfg = make_cfg(toy, tmp_path)
    cfg.train_cfg.update(train_cfg)
    with pytest.raises(ValueError, match=match):
        Runner.from_cfg(cfg).train_loop


def test_loop_needs_load_pseudo_labels(toy, tmp_path):
    from mmengine.runner import Runner
    cfg = make_cfg(toy, tmp_path)
    cfg.train_dataloader.dataset.pipeline[1] = dict(type='CheckedLoadAnnotations')
    with pytest.raises(ValueError, match='LoadPseudoLabels'):
        Runner.from_cfg(cfg).train_loop


def test_loop_max_iters(toy, tmp_path):
    from mmengine.runner import Runner
    loop = Runner.from_cfg(make_cfg(toy, tmp_path, rounds=(3, 4, 5))).train_loop
    assert isinstance(loop, SelfTrainingLoop)
    assert loop.max_iters == 12 and loop.rounds == [3, 4, 5]
    assert loop.round_dir(2) == osp.join(str(tmp_path), 'pseudo_labels', 'round_2')


def test_files_and_manifest(reference, toy):
    for r in range(len(ROUNDS)):
        d = osp.join(reference, 'pseudo_labels', f'round_{r}')
        names = sorted(os.listdir(d))
        assert names == sorted([f'{s}.png' for s in STEMS] + [f'{s}_weight.png' for s in STEMS] +
                               ['identity.json', 'manifest.json', 'labeler_state.pt']), names
        for s in STEMS:
            label = cv2.imread(f'{d}/{s}.png', cv2.IMREAD_UNCHANGED)
            weight = cv2.imread(f'{d}/{s}_weight.png', cv2.IMREAD_UNCHANGED)
            image = cv2.imread(f'{toy}/target/images/train/{s}.png')
            assert label.dtype == np.uint8 and label.shape == image.shape[:2]
            assert set(np.unique(label)) <= set(range(10)) | {255}
            # CBST weights are 1 on labelled pixels and 0 elsewhere.
            np.testing.assert_array_equal(weight, np.where(label == 255, 0, 255))
        m = manifest(reference, r)
        ident = m['identity']
        assert ident['round'] == r and ident['num_classes'] == 10 and ident['format'] == 2
        assert ident['dataset'] == dict(ident['dataset'], type='ToyCityDataset', num_images=4,
                                        data_root=osp.abspath(f'{toy}/target'))
        assert ident['labeler'] == dict(ident['labeler'], type='ClassBalancedLabeler',
                                        num_classes=10, proportion=0.5, mode='offline')
        assert ident['extra']['pipeline'][0]['type'] == 'CheckedLoadImageFromFile'
        assert ident['tta'] is None and len(ident['model_sha1']) == 40
        assert m['images_per_rank'] == [4] and m['reused_images'] == 0
        # A class-balanced proportion of 0.5 labels about half of the pixels.
        assert 0.3 < m['stats']['coverage'] < 0.7
        # Training runs never read target ground truth (diagnostics_use_target_gt is off).
        assert m['stats']['accuracy'] is None
        assert len(m['labeler_state']['thresholds']) == 10
        with open(f'{d}/identity.json') as f:
            identity = json.load(f)
        assert identity == dict(identity=m['identity'], hash=m['hash'])
    # Round 1 was labelled by the model after round 0 (teacher := student), not the source model.
    assert round_files(reference, 0) != round_files(reference, 1)


def test_resume_after_kills_gives_identical_weights(reference, toy, tmp_path, monkeypatch):
    work = str(tmp_path / 'work')
    writes, accumulates = [], []
    write, accumulate = stl.write_pseudo_label, ClassBalancedLabeler.accumulate

    def kill_writes_after(n):
        writes.clear()

        def wrapped(*args):
            if len(writes) == n:
                raise Killed
            writes.append(args[1])
            write(*args)
        monkeypatch.setattr(stl, 'write_pseudo_label', wrapped)

    def counting_accumulate(self, *args, **kwargs):
        accumulates.append(1)
        return accumulate(self, *args, **kwargs)
    monkeypatch.setattr(ClassBalancedLabeler, 'accumulate', counting_accumulate)

    # 1. Killed while writing round 0's labels, before any checkpoint: the same command again.
    kill_writes_after(1)
    with pytest.raises(Killed):
        train(make_cfg(toy, work))
    assert len(glob.glob(f'{work}/pseudo_labels/round_0/*_weight.png')) == 1
    assert not osp.exists(f'{work}/pseudo_labels/round_0/manifest.json')
    assert osp.isfile(f'{work}/pseudo_labels/round_0/labeler_state.pt')

    # 2. Rerun: round 0 reuses the statistics (no pass 1) and the written image, trains, then is
    #    killed while writing round 1 (after its pass 1: one accumulate call per batch of 2).
    kill_writes_after(3 + 3)
    accumulates.clear()
    with pytest.raises(Killed):
        train(make_cfg(toy, work))
    assert len(writes) == 6 and len(accumulates) == 2
    assert manifest(work, 0)['reused_images'] == 1
    assert osp.isfile(f'{work}/iter_1.pth')

    # 3. Resume from iter_1: round 1 reuses statistics and files; killed after iteration 2 (the
    #    middle of round 1), whose checkpoint is saved.
    monkeypatch.setattr(stl, 'write_pseudo_label', write)
    run_iter = SelfTrainingLoop.run_iter

    def killed_after_iter_2(self, batch):
        run_iter(self, batch)
        if self._iter == 2:
            raise Killed
    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', killed_after_iter_2)
    accumulates.clear()
    with pytest.raises(Killed):
        train(make_cfg(toy, work, resume=True))
    assert len(accumulates) == 0 and manifest(work, 1)['reused_images'] == 3
    assert osp.isfile(f'{work}/iter_2.pth') and not osp.exists(f'{work}/iter_3.pth')

    # 4. Resume from iter_2: round 1 is complete, its data order is replayed to iteration 2.
    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', run_iter)
    train(make_cfg(toy, work, resume=True))

    for r in range(len(ROUNDS)):
        assert round_files(work, r) == round_files(reference, r), f'round {r} files differ'
        assert not [n for n in os.listdir(f'{work}/pseudo_labels/round_{r}')
                    if n.startswith('.tmp-')]
    ref, got = final_state(reference), final_state(work)
    assert ref.keys() == got.keys()
    different = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not different, f'weights differ from the uninterrupted run: {different[:5]}'


def test_resume_at_a_round_boundary_keeps_the_rounds_labeler_state(reference, toy, tmp_path,
                                                                   monkeypatch):
    """Killed after round 1 was labelled, before its first step; resumed from iter_1.pth (saved
    with round 0's thresholds). Round 1's complete directory is reused: the labeler must hold the
    thresholds round 1 was labelled with, as in the uninterrupted run."""
    work = str(tmp_path / 'work')
    run_iter = SelfTrainingLoop.run_iter

    def killed_before_iter_2(self, batch):
        if self._iter == 1:
            raise Killed
        run_iter(self, batch)
    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', killed_before_iter_2)
    with pytest.raises(Killed):
        train(make_cfg(toy, work))
    assert osp.isfile(f'{work}/pseudo_labels/round_1/manifest.json')
    round0 = final_state(work, 1)['pseudo_labeler.thresholds']
    round1 = torch.tensor(manifest(work, 1)['labeler_state']['thresholds'])
    assert not torch.equal(round0, round1)  # else the test could not fail

    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', run_iter)
    runner = train(make_cfg(toy, work, resume=True))
    labeler = runner.model.pseudo_labeler
    assert torch.equal(labeler.thresholds.cpu(), round1) and int(labeler.round) == 1
    ref, got = final_state(reference), final_state(work)
    different = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not different, f'differ from the uninterrupted run: {different[:5]}'


def copy_round(src_work, dst_work, r=0):
    dst = osp.join(dst_work, 'pseudo_labels', f'round_{r}')
    shutil.copytree(osp.join(src_work, 'pseudo_labels', f'round_{r}'), dst)
    return dst


@pytest.mark.parametrize('partial', [False, True])
def test_directory_of_another_labelling_is_relabelled(reference, toy, tmp_path, monkeypatch,
                                                      partial):
    """Round 0 of the reference (proportion 0.5) in a run with proportion 0.2: relabelled, and
    the log says why; a partial directory (no manifest) alike."""
    d = copy_round(reference, str(tmp_path))
    if partial:
        os.remove(f'{d}/manifest.json')
    logs = []
    monkeypatch.setattr(stl, 'print_log', lambda msg, *a, **k: logs.append(msg))

    def killed(self, batch):
        raise Killed
    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', killed)  # stop at round 0's first step
    with pytest.raises(Killed):
        train(make_cfg(toy, tmp_path, model=dict(pseudo_labeler=dict(proportion=0.2))))
    why = [m for m in logs if 'relabelling' in m]
    assert len(why) == 1 and d in why[0] and 'labeler.proportion: 0.5 there, 0.2 now' in why[0]
    assert manifest(str(tmp_path), 0)['identity']['labeler']['proportion'] == 0.2
    assert round_files(str(tmp_path), 0) != round_files(reference, 0)


def test_complete_round_is_reused(reference, toy, tmp_path, monkeypatch):
    d = copy_round(reference, str(tmp_path))
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{d}/*')}

    def fail(*args, **kwargs):
        pytest.fail('round 0 was labelled again')

    def killed(self, batch):
        raise Killed
    monkeypatch.setattr(stl, 'write_pseudo_label', fail)
    monkeypatch.setattr(ClassBalancedLabeler, 'accumulate', fail)
    monkeypatch.setattr(SelfTrainingLoop, 'run_iter', killed)  # stop at round 0's first step
    with pytest.raises(Killed):
        train(make_cfg(toy, tmp_path))
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{d}/*')} == before


def test_round_without_valid_pixels_has_no_nan(toy, tmp_path):
    # No confidence reaches 1.01: every pixel is ignored, every weight 0 (a one-pass labeler).
    cfg = make_cfg(toy, tmp_path, rounds=(1, 1), model=dict(
        pseudo_labeler=dict(_delete_=True, type='ThresholdLabeler', threshold=1.01,
                            weight_mode='pixel')))
    runner = train(cfg)
    for r in range(2):
        m = manifest(str(tmp_path), r)
        assert m['stats']['coverage'] == 0.0 and m['stats']['accuracy'] is None
        assert m['stats']['mean_weight'] == 0.0
        d = osp.join(str(tmp_path), 'pseudo_labels', f'round_{r}')
        assert m['labeler_state'] == dict(round=r)  # a one-pass labeler: no statistics
        for s in STEMS:
            assert (cv2.imread(f'{d}/{s}.png', cv2.IMREAD_UNCHANGED) == 255).all()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert loss == 0.0
    state = final_state(str(tmp_path), 2)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_cbst_config_end_to_end(toy, tmp_path):
    """The config through mmseg's own tools/train.py, from a (plain) source checkpoint."""
    source = make_source_checkpoint(str(tmp_path / 'source.pth'))
    work = str(tmp_path / 'work')
    opts = cbst_options(toy, rounds=(1, 1), val_interval=2, ckpt_interval=2)
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, CBST), '--work-dir', work,
           '--cfg-options', f'load_from={source}', *opts]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'tgt.loss_pl_ce' in out and 'mIoU' in out and 'ECE' in out
    for r in range(2):
        assert f'round {r}: labelled 4 images' in out
        assert manifest(work, r)['images_per_rank'] == [4]
    state = final_state(work, 2)
    # The labels come from the current model: no teacher, or one kept equal to the student.
    students = [k for k in state if k.startswith('student.')]
    teachers = [k for k in state if k.startswith('teacher.')]
    assert students and (not teachers or all(
        torch.equal(state[k], state['teacher.' + k[len('student.'):]]) for k in students))


def test_an_empty_target_set_is_a_clear_error():
    from mmsfda.engine.pseudo_labeling import _require_images
    with pytest.raises(ValueError, match=r"data_root='data/x'.*has no images"):
        _require_images(type('Empty', (list, ), dict(data_root='data/x'))(), 'the target set')
    _require_images([1], 'the target set')
