"""T2S-DA through mmseg's tools/train.py: the toy UDA (DAFormer and HRDA) and DG configs (tiny MiT,
2 iterations, the contrastive state in the checkpoint; DG with the photometric and the learned style
view) and the MiT-B5 GTA5/SYNTHIA -> Cityscapes configs build."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from mmsfda.utils import mmseg_tool_path
from test_engine.toy_self_training import make_source_checkpoint, make_toy_data, uda_options

UDA = 'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
DG = 'configs/t2sda/t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py'
HRDA = 'configs/t2sda/t2sda-hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
DG_STYLE = 'configs/t2sda/t2sda-dg-style-augmentor-daformer_mit-tiny_1xb4-300_toy-source-128x256.py'
DGS = (DG, DG_STYLE)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('t2sda')
    data = make_toy_data(str(root))
    return data, make_source_checkpoint(str(root / 'source_mit.pth'), config=UDA), root


def dg_options(data, source):
    """Like ``uda_options`` for a plain source train set (DG): source train, target val."""
    opts = [o for o in uda_options(data, source)
            if not o.startswith(('train_dataloader.dataset.', 'model.student.data_'))]
    return opts + [f'train_dataloader.dataset.data_root={data}/source',
                   'model.student.data_preprocessor.size=[64,128]']


@pytest.mark.parametrize('config,extra', [(UDA, []), (DG, []), (HRDA, []), (DG_STYLE, []),
                                          (HRDA, ['model.source_loss_view=clean'])],
                         ids=['uda', 'dg', 'hrda', 'dg-style-augmentor', 'hrda-clean-source-loss'])
def test_toy_config_trains(toy, config, extra):
    data, source, root = toy
    work = str(root / (osp.basename(config) + ''.join(extra)))
    opts = dg_options(data, source) if config in DGS else uda_options(data, source)
    opts += extra
    proc = subprocess.run([sys.executable, mmseg_tool_path('train.py'), osp.join(REPO, config),
                           '--work-dir', work, '--cfg-options', *opts], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'mIoU' in out and 'src.loss_t2s' in out and 'src.t2s_classes' in out
    assert (config not in DGS) == ('tgt.loss_pl_ce' in out) == ('tgt.t2s_classes' in out)
    assert (config == HRDA) == ('src.decode.detail.loss_ce' in out)
    state = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    for key in ('aux.projection.mlp.0.weight', 'aux.key_projection.mlp.0.weight',
                'aux.t2s_memory.prototypes', 'aux.t2s_memory.prototype_valid',
                'aux.t2s_reweighting.score'):
        assert key in state, key
    assert state['aux.t2s_memory.prototype_valid'].any()
    assert torch.isfinite(state['aux.t2s_memory.prototypes']).all()
    # the learned view is frozen: its networks and style statistics travel unchanged
    assert (config == DG_STYLE) == ('pseudo_target.transformer.layers.0.conv.weight' in state)
    if config == DG_STYLE:
        assert 'pseudo_target.embedding_factor' in state


REAL = sorted(glob.glob(osp.join(REPO, 'configs/t2sda/*mitb5*.py')))


def test_real_configs_cover_both_benchmarks():
    names = [osp.basename(c) for c in REAL]
    for base in ('t2sda-daformer', 't2sda-hrda'):
        assert any(n.startswith(base) and 'gta5-to-cityscapes' in n for n in names), base
        assert any(n.startswith(base) and 'synthia-to-cityscapes' in n for n in names), base


@pytest.mark.parametrize('path', REAL, ids=osp.basename)
def test_mitb5_configs_build(path):
    """MiT-B5 (random weights), the projection head on the 256-channel fused feature, trained at
    the decode head's 10x lr."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmsfda.utils.pretrained import PRETRAINED, SCHEME
    cfg = Config.fromfile(path)
    cfg.model.student.backbone.init_cfg = None
    view = cfg.model.get('pseudo_target') or {}
    if view.get('type') == 'StyleAugmentor':  # the published files, known to the table
        assert sorted(view.weights) == ['embeddings', 'predictor', 'transformer']
        for name in view.weights.values():
            assert name.startswith(SCHEME) and name[len(SCHEME):] in PRETRAINED, name
        view.weights = None  # not on CI: random networks of the published shapes
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == ('T2SDGSegmentor' if '-dg-' in path else 'T2SDASegmentor')
    if '-style-augmentor-' in path:  # the published networks' sizes
        assert type(model.pseudo_target).__name__ == 'StyleAugmentor'
        assert model.pseudo_target.predictor.fc.in_features == 768
        assert len(model.pseudo_target.transformer.layers) == 11
    assert type(model.student).__name__ == ('HRDAEncoderDecoder' if '-hrda_' in path
                                            else 'EncoderDecoder')
    assert model.aux['projection'].in_channels == 256
    assert model.aux['projection'].out_channels == 128
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    head = {id(p) for p in model.aux['projection'].parameters()}
    lrs = {round(g['lr'], 12) for g in ow.param_groups if any(id(p) in head for p in g['params'])}
    assert lrs == {6e-4}
