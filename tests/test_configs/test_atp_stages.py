"""ATP's stages files (tools/run_stages.py) and exact resume of the stages that
test_atp_configs.py does not resume: Align (the curriculum's position is state) and the black-box
distillation, each killed after iteration 3 (last checkpoint: 2) and resumed to the weights of the
uninterrupted run. Tiny images, in-process as mmseg's tools/train.py runs them."""
import glob
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO, data_roots

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
sys.path.insert(0, osp.join(REPO, 'tools'))
from run_stages import load_stages  # noqa: E402
from test_exact_resume import Killed, KillAfterIter, make_cfg, train, weights  # noqa: E402
from toy_self_training import make_source_checkpoint, make_toy_data  # noqa: E402

ALIGN = 'configs/atp/atp-align_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
DISTILL = 'configs/atp/atp-distill_deeplabv2_r18-tiny_1xb4-800_toy-target-128x256.py'
SOURCE_CONFIG = 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'
STAGE_FILES = sorted(glob.glob(osp.join(REPO, 'configs', 'atp', 'stages_*.py')))
ITERS = 4


@pytest.mark.parametrize('path', STAGE_FILES, ids=osp.basename)
def test_stage_files(path):
    spec = load_stages(path)
    stages = spec['stages']
    names = [s['name'] for s in stages]
    assert names[-3:] == ['align', 'teach', 'propagate'], names
    # the first stage starts from --cfg-options (a source model) or from nothing (black-box
    # distillation: a fresh network); every later one from the stage before it
    assert stages[0]['load_from'] is None
    assert [s['load_from'] for s in stages[1:]] == names[:-1]
    for stage in stages:
        cfg = Config.fromfile(stage['config'])
        roots = list(data_roots(cfg._cfg_dict))
        root = spec['data_root']
        assert roots and all(r == root or r.startswith(root + '/') for r in roots), roots
        assert cfg.model.get('setting') == 'sfda', (stage['name'], cfg.model.get('setting'))
    if 'black_box' in path:
        assert names[0] == 'distill' and Config.fromfile(stages[0]['config']).load_from is None


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('atp_resume')
    data = make_toy_data(str(root))
    source = make_source_checkpoint(str(root / 'source.pth'), config=ALIGN)
    return data, source, root


def killed_and_resumed(make, ref, work):
    """Run ``make(work_dir, resume)`` uninterrupted in ``ref``, killed after iteration 3 and
    resumed in ``work``; returns (uninterrupted, resumed) final weights."""
    train(make(ref, False))
    with pytest.raises(Killed):
        train(make(work, False), hooks=[KillAfterIter(ITERS - 1)])
    assert not osp.exists(work / f'iter_{ITERS}.pth')
    runner = train(make(work, True))
    assert runner.iter == ITERS
    return weights(ref / f'iter_{ITERS}.pth'), weights(work / f'iter_{ITERS}.pth')


def assert_same(a, b):
    assert a.keys() == b.keys()
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


def test_align_killed_and_resumed(toy, tmp_path):
    data, source, _ = toy

    def make(work, resume):
        return make_cfg(ALIGN, data, work, [
            f'load_from={source}', f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=1000',
            'default_hooks.checkpoint.interval=2',
            f'model.target_losses.0.rho_iters={ITERS}'], resume=resume)

    final, resumed = killed_and_resumed(make, tmp_path / 'ref', tmp_path / 'killed')
    assert int(final['target_losses.0.step']) == ITERS
    assert_same(final, resumed)


def test_black_box_distillation_killed_and_resumed(toy, tmp_path):
    data, source, _ = toy
    from atp_black_box_predictions import main as write_predictions
    pred_dir = str(tmp_path / 'predictions')
    write_predictions([osp.join(REPO, SOURCE_CONFIG), source, f'{data}/target/images/train',
                       '--out', pred_dir])

    def make(work, resume):
        return make_cfg(DISTILL, data, work, [
            f'train_dataloader.dataset.pipeline.1.pred_dir={pred_dir}',
            f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=1000',
            'default_hooks.checkpoint.interval=2'], resume=resume)

    final, resumed = killed_and_resumed(make, tmp_path / 'ref', tmp_path / 'killed')
    assert_same(final, resumed)
