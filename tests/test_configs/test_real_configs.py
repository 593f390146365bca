"""The GTA5/SYNTHIA -> Cityscapes configs parse and build (models and evaluators)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import METRICS, MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*r101*.py')))
UDA = ('dacs', 'minent', 'advent', 'adaptsegnet')  # methods trained on source and target


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
        setting = 'uda' if any(f'/{m}/' in path for m in UDA) else 'sfda'
        assert model.setting == setting
        if setting == 'uda':
            assert cfg.train_dataloader.dataset.type == 'DomainPairDataset'
        else:
            assert 'source' not in cfg.train_dataloader.dataset
        # Only an EMA teacher is a second copy of the network (DACS); the others label with the
        # student (no teacher) or label nothing.
        assert (model.teacher is not None) == ('/dacs/' in path)
    if any(f'/{m}/' in path for m in ('tent', 'shot', 'dacs')):
        # DeepLabV2-R101 freezes BN (fixbn): what the network config froze is never trained,
        # unless the method's config unfreezes it (TENT adapts exactly those parameters).
        trainable = {n for n, p in model.student.named_parameters() if p.requires_grad}
        norm = {f'{m}.{n}' for m, mod in model.student.named_modules()
                if isinstance(mod, _BatchNorm) for n, _ in mod.named_parameters(recurse=False)}
        assert norm and trainable
        assert trainable == norm if '/tent/' in path else not trainable & norm
    for metric in cfg.val_evaluator:
        METRICS.build(metric)
    # Checkpoint selection by calibration is on for every config (Cal-SFDA stage 2 trains the
    # value net and hands on its last checkpoint; stage 3 selects by the estimated ECE).
    if 'calsfda-s2' not in path:
        save_best = cfg.default_hooks.checkpoint.save_best
        assert 'ECE' in save_best or 'EstECE' in save_best
    if '/calsfda/' in path:
        names = {h['type'] for h in cfg.default_hooks.values() if h}
        assert 'CheckpointSelectionHook' in names or 'calsfda-s2' in path


NAMED_HOOKS = sorted(c for c in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
                     if '/_base_/' not in c and not osp.basename(c).startswith('stages_'))


@pytest.mark.parametrize('path', NAMED_HOOKS, ids=osp.basename)
def test_hooks_are_named(path):
    """Every hook is a named entry of `default_hooks`, so each of its settings can be overridden
    by name (`--cfg-options default_hooks.<name>.<key>=...`), never by a list index."""
    cfg = Config.fromfile(path)
    assert not cfg.get('custom_hooks'), [h['type'] for h in cfg.custom_hooks]
    assert all(h is None or isinstance(h, dict) and 'type' in h for h in cfg.default_hooks.values())
