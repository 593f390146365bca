"""Source-free purity: SFDA configs open no source file, and a source dataset fails the build."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from test_exact_resume import make_cfg, train
from toy_self_training import make_toy_data

from mmsfda.engine.source_free import (SourceDataError, check_source_free, find_source_data,
                                       source_reason)

SFDA_CONFIGS = {
    'adabn': ('configs/adabn/adabn_deeplabv2_r18-tiny_toy-source-to-target-128x256.py', []),
    'tent': ('configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
             ['train_cfg.max_iters=2']),
    'shot': ('configs/shot/shot-im_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
             ['train_cfg.max_iters=2']),
    'cbst': ('configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py',
             ['train_cfg.rounds=[1,1]']),
    'calsfda-s3': ('configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
                   'toy-source-to-target-128x256.py', ['train_cfg.rounds=[1,1]']),
}


class FileRecorder:
    """Records the paths that are opened (``open``, ``os.open``: python's audit events) or listed
    (``os.listdir``, ``os.scandir``) while ``on``, and those read by ``cv2.imread``."""
    installed = None

    def __init__(self):
        self.on, self.paths = False, []

    def __call__(self, event, args):
        if self.on and event in ('open', 'os.listdir', 'os.scandir') and args and \
                isinstance(args[0], (str, bytes)):
            path = args[0].decode() if isinstance(args[0], bytes) else args[0]
            self.paths.append(osp.abspath(path))

    @classmethod
    def get(cls):
        if cls.installed is None:  # an audit hook cannot be removed: one for the session
            cls.installed = cls()
            sys.addaudithook(cls.installed)
        return cls.installed


@pytest.fixture
def opened(monkeypatch):
    import cv2
    recorder = FileRecorder.get()
    recorder.paths = []
    imread = cv2.imread

    def recording_imread(path, *args):
        recorder(('open'), (str(path), ))
        return imread(path, *args)
    monkeypatch.setattr(cv2, 'imread', recording_imread)
    recorder.on = True
    yield recorder.paths
    recorder.on = False


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('purity')
    return make_toy_data(str(root)), root


def initial_checkpoint(cfg, path):
    """A seeded, untrained checkpoint of the config's (student) network, as load_from."""
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model.get('student', cfg.model))
    model.init_weights()
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


@pytest.mark.parametrize('name', list(SFDA_CONFIGS))
def test_sfda_config_opens_no_source_file(toy, tmp_path, opened, name):
    data, _ = toy
    config, options = SFDA_CONFIGS[name]
    ckpt = initial_checkpoint(Config.fromfile(osp.join(REPO, config)), str(tmp_path / 'init.pth'))
    cfg = make_cfg(config, data, tmp_path / 'work', [f'load_from={ckpt}', *options],
                   validate=True)
    cfg.train_cfg.val_interval = 1000
    if 'trainable_schedule' in cfg.default_hooks:  # Cal-SFDA's phase switch inside 2 iterations
        cfg.default_hooks.trainable_schedule.phases.decoder.begin = 1
    train(cfg)
    source, target = osp.join(data, 'source'), osp.join(data, 'target')
    from_source = sorted({p for p in opened if p == source or p.startswith(source + osp.sep)})
    assert not from_source, f'{name} opened source files: {from_source[:5]}'
    # the recorder works: the run read target train images
    assert any(p.startswith(osp.join(target, 'images', 'train')) for p in opened)


# ------------------------------------------------------------------ the build-time check
TENT = SFDA_CONFIGS['tent'][0]


def _runner(cfg):
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


def test_source_dataset_in_a_hook_dataloader_fails_the_build(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, TENT))
    cfg.work_dir = str(tmp_path)
    warmup_loader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset,
                                                          data_root='data/gta_like/source'))
    cfg.custom_hooks = [dict(type='BNStatsWarmupHook', dataloader=warmup_loader)]
    with pytest.raises(SourceDataError, match=r'custom_hooks\[0\]\.dataloader\.dataset: its '
                                               r"data_root 'data/gta_like/source'"):
        _runner(cfg)
    # the same hook on target data builds
    cfg.custom_hooks[0]['dataloader'] = cfg.val_dataloader
    _runner(cfg)


@pytest.mark.parametrize('where', ['train_dataloader', 'val_dataloader', 'label_dataloader'])
def test_source_dataset_anywhere_fails_the_build(tmp_path, where):
    cfg = Config.fromfile(osp.join(REPO, TENT))
    cfg.work_dir = str(tmp_path)
    gta = dict(type='GTA5Dataset', data_root='data/gta', pipeline=[])
    if where == 'train_dataloader':  # a UDA pair dataset in a source-free config
        cfg.train_dataloader.dataset = dict(type='DomainPairDataset', source=gta,
                                            target=cfg.train_dataloader.dataset)
        match = r'train_dataloader\.dataset: DomainPairDataset with a source dataset'
    elif where == 'val_dataloader':  # wrapped
        cfg.val_dataloader.dataset = dict(type='ConcatDataset',
                                          datasets=[cfg.val_dataloader.dataset, gta])
        match = r'val_dataloader\.dataset\.datasets\[1\]: GTA5Dataset is a source-domain'
    else:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                             label_dataloader=dict(cfg.val_dataloader, dataset=gta))
        match = r'train_cfg\.label_dataloader\.dataset: GTA5Dataset'
    with pytest.raises(SourceDataError, match=match):
        _runner(cfg)


def test_adabn_config_declares_it_is_source_free(tmp_path):
    """AdaBN adapts a plain EncoderDecoder (no ``setting``): its config's top-level
    ``setting='sfda'`` makes the build check its dataloaders all the same."""
    cfg = Config.fromfile(osp.join(REPO, SFDA_CONFIGS['adabn'][0]))
    assert cfg.setting == 'sfda' and 'setting' not in cfg.model
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = 'data/toy/source'  # BN statistics of the source
    with pytest.raises(SourceDataError, match=r"train_dataloader\.dataset: its data_root "
                                               r"'data/toy/source'"):
        _runner(cfg)
    # the model's own setting wins over the config's
    check_source_free(dict(type='SelfTrainingSegmentor', setting='uda'), cfg.train_dataloader,
                      config_setting='sfda')
    check_source_free(dict(type='EncoderDecoder'), cfg.train_dataloader, config_setting='uda')


def test_uda_and_plain_configs_may_use_source_data(tmp_path):
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'))
    assert find_source_data(dict(train_dataloader=cfg.train_dataloader))  # it has source data
    check_source_free(cfg.model, cfg.train_dataloader)  # setting='uda': allowed
    # a segmentor without `setting` (source-only, AdaBN) is not checked
    check_source_free(dict(type='EncoderDecoder'), cfg.train_dataloader)
    # SelfTrainingSegmentor defaults to setting='sfda'
    sfda = dict(cfg.model)
    sfda.pop('setting')
    with pytest.raises(SourceDataError):
        check_source_free(sfda, cfg.train_dataloader)


def test_the_rule():
    assert source_reason(dict(type='ToyCityDataset', data_root='data/toy/target')) is None
    assert 'source' in source_reason(dict(type='ToyCityDataset', data_root='data/toy/source/'))
    assert 'SynthiaDataset' in source_reason(dict(type='SynthiaDataset', data_root='x'))
    assert source_reason(dict(type='BaseSegDataset', data_root='x',
                              metainfo=dict(domain='source'))) == "metainfo domain='source'"
    # an explicit target declaration wins over the folder name
    assert source_reason(dict(type='BaseSegDataset', data_root='a/source',
                              metainfo=dict(domain='target'))) is None


# ------------------------------------------------------------------ target ground truth
@pytest.fixture(scope='module')
def toy_scrambled(toy):
    """The toy data with random target-train labels (same files, other content)."""
    import glob
    import shutil

    import cv2
    import numpy as np
    data, root = toy
    other = str(root / 'scrambled')
    shutil.copytree(data, other)
    rng = np.random.default_rng(0)
    labels = sorted(glob.glob(osp.join(other, 'target', 'labels', 'train', '*.png')))
    assert labels
    for path in labels:
        shape = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape
        cv2.imwrite(path, rng.integers(0, 10, size=shape).astype(np.uint8))
    return other


@pytest.mark.parametrize('name', ['tent', 'cbst', 'calsfda-s3'])
def test_training_ignores_target_train_labels(toy, toy_scrambled, tmp_path, name):
    """Target-train ground truth may be loaded for diagnostics (pseudo-label accuracy) but never
    trained on (``diagnostics_use_target_gt=False``): random target-train labels give the same
    weights."""
    config, options = SFDA_CONFIGS[name]
    ckpt = initial_checkpoint(Config.fromfile(osp.join(REPO, config)), str(tmp_path / 'init.pth'))
    finals = []
    for data in (toy[0], toy_scrambled):
        work = tmp_path / osp.basename(data)
        cfg = make_cfg(config, data, work, [f'load_from={ckpt}', *options])
        if 'trainable_schedule' in cfg.default_hooks:
            cfg.default_hooks.trainable_schedule.phases.decoder.begin = 1
        train(cfg)
        finals.append(torch.load(work / 'iter_2.pth', map_location='cpu',
                                 weights_only=False)['state_dict'])
    a, b = finals
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
