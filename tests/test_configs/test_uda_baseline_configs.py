"""UDA baselines through mmseg's tools/train.py: AdvEnt, AdaptSegNet (two optimisers), MinEnt,
DAFormer, MIC, HRDA and MIC(HRDA) (tiny MiT); their real (GTA5/SYNTHIA -> Cityscapes) configs build."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from mmsfda.utils import mmseg_tool_path
from test_engine.toy_self_training import (make_source_checkpoint, make_toy_data, size_options,
                                          uda_options)

CONFIGS = {
    'advent': 'configs/advent/advent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'adaptsegnet': 'configs/adaptsegnet/'
                   'adaptsegnet_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'minent': 'configs/minent/minent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'daformer': 'configs/daformer/daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'mic': 'configs/mic/mic-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'hrda': 'configs/hrda/hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'mic-hrda': 'configs/mic/mic-hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
    'fda': 'configs/fda/fda_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
}
MIT = ('daformer', 'mic', 'hrda', 'mic-hrda')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('uda_baselines')
    data = make_toy_data(str(root))
    sources = {'r18': make_source_checkpoint(str(root / 'source.pth'), config=CONFIGS['minent']),
               'mit': make_source_checkpoint(str(root / 'source_mit.pth'),
                                             config=CONFIGS['daformer'])}
    return data, sources, root


def train(config, work_dir, data, source_ckpt):
    opts = uda_options(data, source_ckpt)
    cmd = [sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, config), '--work-dir',
           work_dir, '--cfg-options', *opts]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth')), out[-2000:]
    return out


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_uda_baseline_trains(toy, name):
    data, sources, root = toy
    source = sources['mit' if name in MIT else 'r18']
    work = str(root / name)
    out = train(CONFIGS[name], work, data, source)
    assert 'mIoU' in out and 'src.decode.loss_ce' in out
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=False)
    if name in ('minent', 'fda'):
        assert 'tgt.loss_entropy' in out
        return
    if name in MIT:
        assert 'src.loss_imnet_fd' in out and 'tgt.loss_pl_ce' in out
        assert name.startswith('mic') == ('tgt.masked.loss_pl_ce' in out)
        # HRDA: the detail crop's losses (source and target) beside the fused prediction's.
        assert name.endswith('hrda') == ('src.decode.detail.loss_ce' in out)
        assert name.endswith('hrda') == ('tgt.detail.loss_pl_ce' in out)
        assert any(k.startswith('aux.imnet.') for k in ckpt['state_dict'])
        return
    assert 'tgt.loss_adv_main' in out and 'loss_d_main' in out
    # Both optimisers (and their schedulers) are in the checkpoint, as are the discriminators.
    assert set(ckpt['optimizer']) >= {'student', 'discriminator'}
    assert any(k.startswith('aux.main.') for k in ckpt['state_dict'])
    if name == 'adaptsegnet':
        assert 'tgt.loss_adv_aux' in out and 'src.aux.loss_ce' in out
        assert any(k.startswith('aux.aux.') for k in ckpt['state_dict'])


def test_fda_mbt_ensemble_checkpoint_evaluates_with_mmseg_test(toy):
    """make_ensemble.py writes one checkpoint of three members; mmseg's tools/test.py runs it."""
    data, sources, root = toy
    config = osp.join(REPO, 'configs/fda/fda-mbt-ensemble_deeplabv2_r18-tiny_toy-target-128x256.py')
    out = str(root / 'mbt.pth')
    proc = subprocess.run([sys.executable, 'tools/model_converters/make_ensemble.py', config,
                           '--checkpoints', *[sources['r18']] * 3, '--out', out], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(out, map_location='cpu', weights_only=False)['state_dict']
    assert {k.split('.')[1] for k in state if k.startswith('members.')} == {'0', '1', '2'}
    opts = [f'test_dataloader.dataset.data_root={data}/target', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', *size_options()[:1]]
    proc = subprocess.run([sys.executable, mmseg_tool_path('test.py'), config, out, '--work-dir',
                           str(root / 'mbt_test'), '--cfg-options', *opts], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert 'mIoU' in proc.stdout + proc.stderr


REAL = sorted(c for m in ('advent', 'adaptsegnet', 'minent', 'daformer', 'mic', 'fda', 'hrda')
              for c in glob.glob(osp.join(REPO, 'configs', m, '*-to-cityscapes-*.py')))


def test_real_configs_cover_both_benchmarks():
    for m in ('advent', 'adaptsegnet', 'minent', 'daformer', 'mic', 'fda', 'hrda'):
        found = [c for c in REAL if f'/{m}/' in c]
        assert any('gta5' in c for c in found) and any('synthia' in c for c in found), m


@pytest.mark.parametrize('path', [c for c in REAL if 'mitb5' in c], ids=osp.basename)
def test_mitb5_configs_build(path):
    """DAFormer / MIC with MiT-B5 build (random weights: no ImageNet file offline) with the
    paper's parameter groups: the student's head at 10x the lr, no decay on norms."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    cfg.model.student.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == ('MICSegmentor' if '/mic/' in path else 'DAFormerSegmentor')
    assert sum(p.numel() for p in model.student.backbone.parameters()) > 80e6  # MiT-B5
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = sorted({round(g['lr'], 12) for g in ow.param_groups})
    assert lrs == [6e-5, 6e-4]
    assert any(g['weight_decay'] == 0 for g in ow.param_groups)
