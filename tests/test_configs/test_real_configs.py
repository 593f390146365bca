"""The GTA5/SYNTHIA -> Cityscapes configs parse and build (models and evaluators)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import METRICS, MODELS

from conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*r101*.py')))


def test_there_are_configs_for_both_benchmarks():
    names = [osp.basename(c) for c in CONFIGS]
    for method in ('source_only', 'adabn', 'tent', 'shot', 'dacs', 'calsfda'):
        found = [c for c in CONFIGS if f'/{method}/' in c]
        assert any('gta5' in c for c in found), method
        assert any('synthia' in c for c in found), method
    assert len(names) == len(set(names))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmsfda'] and cfg.default_scope == 'mmseg'
    model_cfg = cfg.model
    net = model_cfg.get('student', model_cfg)
    net.backbone.init_cfg = None  # no network for ImageNet weights in tests
    num_classes = net.decode_head.num_classes
    assert num_classes == (16 if 'synthia16' in path else 19)
    model = MODELS.build(model_cfg)
    assert model.decode_head.num_classes == num_classes
    if model_cfg.type == 'SelfTrainingSegmentor':
        setting = 'uda' if '/dacs/' in path else 'sfda'
        assert model.setting == setting
        if setting == 'uda':
            assert cfg.train_dataloader.dataset.type == 'DomainPairDataset'
        else:
            assert 'source' not in cfg.train_dataloader.dataset
    for metric in cfg.val_evaluator:
        METRICS.build(metric)
    # Checkpoint selection by calibration is on for every config (Cal-SFDA stage 2 trains the
    # value net and hands on its last checkpoint; stage 3 selects by the estimated ECE).
    if 'calsfda-s2' not in path:
        save_best = cfg.default_hooks.checkpoint.save_best
        assert 'ECE' in save_best or 'EstECE' in save_best
    if '/calsfda/' in path:
        names = {h['type'] for h in cfg.custom_hooks}
        assert 'CheckpointSelectionHook' in names or 'calsfda-s2' in path
