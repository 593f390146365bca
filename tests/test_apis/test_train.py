import os

from mmsfda.apis import run_name, training_wall_time


def test_run_name_is_shared_slug():
    assert run_name('TENT (SFDA)', 0) == 'tent-sfda_seed0'
    assert run_name('source-only + ECE loss', 2) == 'source-only-ece-loss_seed2'


def test_training_wall_time_sums_resumed_parts(tmp_path):
    for stamp, lines in [('20261123_100000', ['10:00:00', '10:00:10', '10:01:40']),
                         ('20261123_110000', ['11:00:00', '11:00:30'])]:
        os.makedirs(tmp_path / stamp)
        with open(tmp_path / stamp / f'{stamp}.log', 'w') as f:
            for t in lines:
                f.write(f'2026/11/23 {t} - mmengine - INFO - Iter(train) ...\n')
            f.write('  a config line without a timestamp\n')
    os.makedirs(tmp_path / 'eval' / '20261123_120000')  # evaluation logs are not training
    assert training_wall_time(str(tmp_path)) == 100 + 30


# ------------------------------------------------------------------ data roots and content keys
import json  # noqa: E402
import os.path as osp  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from mmsfda.utils.repo_tools import load_repo_tool  # noqa: E402
from mmsfda.apis import (data_roots, finished_run, load_config,  # noqa: E402
                         read_manifest, redirect_data_root, shorten_schedule, train_config)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CBST = 'configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'
DACS = 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
CALSFDA_S3 = ('configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
              'toy-source-to-target-128x256.py')
SOURCE = 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'


@pytest.mark.parametrize('config', [CBST, DACS, CALSFDA_S3, SOURCE])
def test_redirect_data_root_moves_every_root(config):
    cfg = load_config(osp.join(REPO, config))
    before = data_roots(cfg)
    assert any(r.startswith('data/toy/') for r in before)
    moved = redirect_data_root(cfg, 'elsewhere/shifted')
    after = data_roots(cfg)
    assert moved >= len(before) and not [r for r in after if r.startswith('data/toy')], after
    assert sorted(after) == sorted(r.replace('data/toy', 'elsewhere/shifted') for r in before)
    if config == CBST:  # the loop's labelling pass, which the old --data options missed
        assert cfg.train_cfg.label_dataloader.dataset.data_root == 'elsewhere/shifted/target'
    if config == DACS:
        assert cfg.train_dataloader.dataset.source.data_root == 'elsewhere/shifted/source'
        assert cfg.train_dataloader.dataset.target.data_root == 'elsewhere/shifted/target'
    if config == CALSFDA_S3:  # BN warm-up hook's own dataloader
        hooks = [h for h in [*cfg.get('custom_hooks', []), *cfg.default_hooks.values()]
                 if h and 'dataloader' in h]
        assert hooks and all(h.dataloader.dataset.data_root == 'elsewhere/shifted/target'
                             for h in hooks)


def test_redirect_data_root_leaves_other_roots_and_errors_when_nothing_moves():
    cfg = dict(a=dict(data_root='data/toyota'), b=[dict(data_root='data/toy')])
    assert redirect_data_root(cfg, 'new') == 1
    assert cfg == dict(a=dict(data_root='data/toyota'), b=[dict(data_root='new')])
    with pytest.raises(ValueError, match="no data_root under 'data/toy'.*data/toyota"):
        redirect_data_root(dict(a=dict(data_root='data/toyota')), 'new')
    assert redirect_data_root(dict(a=dict(data_root='data/toyota')), 'data/toy') == 0


def _make_toy_data():
    return load_repo_tool('make_toy_data')


# 2 iterations of the source-only config on 4 tiny images: enough to make a checkpoint.
TINY_RUN = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
            'model.data_preprocessor.size=(32,64)', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False']


def test_train_config_redirects_and_caches_by_content(tmp_path, capsys):
    data = str(tmp_path / 'toy_elsewhere')
    _make_toy_data().generate(data, seed=1, num_train=4, num_val=2, height=32, width=64,
                              progress=False)
    work = str(tmp_path / 'run')
    ckpt = train_config(osp.join(REPO, SOURCE), work, TINY_RUN, data_root=data)
    assert ckpt == osp.join(work, 'iter_2.pth') and osp.isfile(ckpt)
    resolved = read_manifest(work)['resolved_config']
    with open(resolved) as f:
        text = f.read()
    assert 'data/toy' not in text and data in text
    assert list(read_manifest(work)['parts']['data']) == [data, data + '/source']

    # Same config, options and data: reused, not retrained.
    mtime = os.path.getmtime(ckpt)
    capsys.readouterr()
    assert train_config(osp.join(REPO, SOURCE), work, TINY_RUN, data_root=data) == ckpt
    assert 'reusing the finished run' in capsys.readouterr().out
    assert os.path.getmtime(ckpt) == mtime

    # Another option: the old run is set aside and the run is redone, with the reason.
    key = read_manifest(work)['key']
    train_config(osp.join(REPO, SOURCE), work, [*TINY_RUN, 'optim_wrapper.optimizer.lr=0.001'],
                 data_root=data)
    out = capsys.readouterr().out
    assert 'redoing the run: changed since it was made: config_sha256' in out
    assert read_manifest(work)['key'] != key
    assert read_manifest(work + '.stale')['key'] == key
    # finished_run (reports over cached runs) trains nothing and knows which run is there
    assert finished_run(osp.join(REPO, SOURCE), work, TINY_RUN, data_root=data) is None
    assert finished_run(osp.join(REPO, SOURCE), work, [*TINY_RUN, 'optim_wrapper.optimizer.lr=0.001'],
                        data_root=data) == ckpt
    assert osp.isfile(ckpt) and os.path.getmtime(ckpt) != mtime  # a new checkpoint


def test_train_config_key_follows_data_and_load_from(tmp_path):
    """The key changes with the data's meta.json and the load_from file's content, not its path."""
    from mmsfda.apis import config_key
    data = tmp_path / 'toy'
    (data / 'source').mkdir(parents=True)
    (data / 'meta.json').write_text(json.dumps(dict(shift='default')))
    cfg = load_config(osp.join(REPO, SOURCE), data_root=str(data))
    k0 = config_key(cfg)
    (data / 'meta.json').write_text(json.dumps(dict(shift='night', severity=2)))
    k1 = config_key(cfg)
    assert k1 != k0
    for name, content in (('a.pth', b'one'), ('b.pth', b'one'), ('c.pth', b'two')):
        (tmp_path / name).write_bytes(content)
    keys = []
    for name in ('a.pth', 'b.pth', 'c.pth'):
        cfg.load_from = str(tmp_path / name)
        keys.append(config_key(cfg))
    assert keys[0] == keys[1] != keys[2] and k1 not in keys


def test_shorten_schedule_reaches_every_dataloader():
    cfg = load_config(osp.join(REPO, CALSFDA_S3))
    shorten_schedule(cfg, 3, image_size=(32, 64))
    assert cfg.train_cfg.rounds == [3, 3] and cfg.train_cfg.val_interval == 6
    loaders = [cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader,
               cfg.train_cfg.label_dataloader] + [
                   h.dataloader for h in [*cfg.get('custom_hooks', []), *cfg.default_hooks.values()]
                   if h and 'dataloader' in h]
    assert len(loaders) == 5
    for loader in loaders:
        assert (loader.num_workers, loader.persistent_workers) == (0, False)
        assert loader.batch_size <= 2
    cfg = load_config(osp.join(REPO, DACS))
    shorten_schedule(cfg, 2, image_size=(32, 64))
    assert cfg.train_cfg.max_iters == 2 and cfg.default_hooks.checkpoint.interval == 2
    sizes = []

    def collect(node):
        if isinstance(node, dict):
            if str(node.get('type', '')).endswith('DataPreProcessor') and node.get('size'):
                sizes.append(tuple(node['size']))
            for value in node.values():
                collect(value)

    collect(cfg.model.to_dict())
    assert sizes and set(sizes) == {(32, 64)}
    with pytest.raises(ValueError, match='positive'):
        shorten_schedule(cfg, 0)


def test_train_config_resumes_an_interrupted_run_started_from_load_from(tmp_path):
    """An adaptation-style run (``load_from`` set) that lost its last checkpoint resumes from the
    one before, through the same command plus --resume (not from ``load_from``)."""
    import glob
    data = str(tmp_path / 'toy_elsewhere')
    _make_toy_data().generate(data, seed=1, num_train=4, num_val=2, height=32, width=64,
                              progress=False)
    source = train_config(osp.join(REPO, SOURCE), str(tmp_path / 'src'), TINY_RUN, data_root=data)
    work = str(tmp_path / 'adapt')
    opts = [*TINY_RUN, 'default_hooks.checkpoint.interval=1', f'load_from={source}']
    final = train_config(osp.join(REPO, SOURCE), work, opts, data_root=data)
    for path in glob.glob(osp.join(work, '*iter_2.pth')):  # as if killed after iteration 1
        os.remove(path)
    logs_before = set(glob.glob(osp.join(work, '2*', '2*.log')))
    assert train_config(osp.join(REPO, SOURCE), work, opts, data_root=data) == final
    (new_log,) = set(glob.glob(osp.join(work, '2*', '2*.log'))) - logs_before
    with open(new_log) as f:
        text = f.read()
    assert 'Resuming from' in text and 'iter_1.pth' in text, text[-2000:]
    assert 'Iter(train) [2/2]' in text and 'Iter(train) [1/2]' not in text
