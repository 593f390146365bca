"""tools/run_stages.py: stages through mmseg's own tools/train.py, hand-on by selection rule or last
checkpoint, one --data-root, per-stage options by name, resume, skip, clear errors."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from mmengine.config import Config

from conftest import REPO, data_roots

sys.path.insert(0, osp.join(REPO, 'tools'))
from run_stages import load_stages, picked_checkpoint, run_stages  # noqa: E402

RUN = osp.join(REPO, 'tools', 'run_stages.py')
SOURCE = 'configs/calsfda/calsfda-s1-source_deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'
ADAPT = 'configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
# Every option addresses a key by name; the loaders' data roots come from --data-root.
TINY = ['train_cfg.max_iters=2', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1'] + [
    f'{loader}.{k}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for k in ('batch_size=2', 'num_workers=0', 'persistent_workers=False')]


def write_stages(path, **source):
    stages = [dict(dict(name='source', config=osp.join(REPO, SOURCE), select='max_miou'), **source),
              dict(name='adapt', config=osp.join(REPO, ADAPT))]
    with open(path, 'w') as f:
        f.write(f"data_root = 'data/toy'\nstages = {stages!r}\n")
    return str(path)


def run_cli(stages, work, data, *extra):
    cmd = [sys.executable, RUN, stages, '--work-dir', work, '--seed', '0', '--data-root', data,
           '--cfg-options', *TINY, 'adapt:optim_wrapper.optimizer.lr=0.001', *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)


def run_dirs(stage_dir):
    """mmengine's per-run timestamp folders: one per (re)start of the stage."""
    return sorted(d for d in glob.glob(osp.join(stage_dir, '2*')) if osp.isdir(d))


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp('stages')
    data = str(root / 'data')
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', data, '--num-train', '4',
                    '--num-val', '2', '--no-progress'], cwd=REPO, check=True, capture_output=True)
    stages = write_stages(root / 'stages.py')
    work = str(root / 'run')
    proc = run_cli(stages, work, data)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    with open(osp.join(work, 'summary.json')) as f:
        summary = json.load(f)
    return dict(root=root, data=data, stages=stages, work=work, summary=summary, out=proc.stdout)


def test_stages_hand_on_the_chosen_checkpoint(pipeline):
    work, summary = pipeline['work'], pipeline['summary']
    assert list(summary['stages']) == ['source', 'adapt']
    source, adapt = summary['stages']['source'], summary['stages']['adapt']
    # stage 1 hands on the pick of its rule, recorded by CheckpointSelectionHook
    assert source['checkpoint'] == picked_checkpoint(osp.join(work, 'source'), 'max_miou')
    assert source['picks']['max_miou']['checkpoint'] == source['checkpoint']
    assert source['load_from'] is None
    # stage 2 starts from it and hands on its last checkpoint
    assert adapt['load_from'] == source['checkpoint']
    assert adapt['checkpoint'] == osp.join(work, 'adapt', 'iter_2.pth')
    resolved = Config.fromfile(glob.glob(osp.join(work, 'adapt', 'config', '*.py'))[0])
    assert resolved.load_from == source['checkpoint']
    # the per-stage option reached only its stage
    assert resolved.optim_wrapper.optimizer.lr == 0.001
    src_resolved = Config.fromfile(glob.glob(osp.join(work, 'source', 'config', '*.py'))[0])
    assert src_resolved.optim_wrapper.optimizer.lr != 0.001
    assert 'stage source' in pipeline['out'] and 'max_miou' in pipeline['out']


def test_data_root_moves_every_root_of_every_stage(pipeline):
    data = pipeline['data']
    for stage, domain in (('source', 'source'), ('adapt', 'target')):
        cfg = Config.fromfile(glob.glob(osp.join(pipeline['work'], stage, 'config', '*.py'))[0])
        roots = [cfg.train_dataloader.dataset.data_root, cfg.val_dataloader.dataset.data_root,
                 cfg.test_dataloader.dataset.data_root]
        assert roots == [f'{data}/{domain}'] * 3, roots


def test_rerun_skips_finished_stages_and_resumes_an_interrupted_one(pipeline):
    work = pipeline['work']
    before = {s: run_dirs(osp.join(work, s)) for s in ('source', 'adapt')}
    # Interrupted after the adapt stage's first checkpoint: its final checkpoint never written.
    os.remove(osp.join(work, 'adapt', 'iter_2.pth'))
    with open(osp.join(work, 'adapt', 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'adapt', 'iter_1.pth'))
    proc = run_cli(pipeline['stages'], work, pipeline['data'])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    # the finished source stage was not trained again
    assert run_dirs(osp.join(work, 'source')) == before['source']
    # the adapt stage restarted once, from iteration 1 of its own run (not from load_from)
    new = [d for d in run_dirs(osp.join(work, 'adapt')) if d not in before['adapt']]
    assert len(new) == 1
    log = open(glob.glob(osp.join(new[0], '*.log'))[0]).read()
    assert 'resumed epoch: 0, iter: 1' in log
    assert 'Iter(train) [2/2]' in log and 'Iter(train) [1/2]' not in log
    assert osp.isfile(osp.join(work, 'adapt', 'iter_2.pth'))
    with open(osp.join(work, 'summary.json')) as f:
        again = json.load(f)
    assert again['stages']['source'] == pipeline['summary']['stages']['source']


def test_edit_reaches_every_stage_and_keys_its_run(pipeline, tmp_path):
    from mmsfda.apis import shorten_schedule
    # A copy of the finished pipeline: the edit changes every stage's resolved config, so no stage
    # is reused from it (each is set aside and redone), and a rerun with the edit reuses them.
    work = str(tmp_path / 'run')
    shutil.copytree(pipeline['work'], work)
    seen = []

    def edit(cfg):
        seen.append(osp.basename(cfg.filename))
        shorten_schedule(cfg, iters=1)  # TINY trains 2 iterations; the edit comes after it

    summary = run_stages(pipeline['stages'], work, 0, pipeline['data'], TINY, edit=edit)
    assert seen == [osp.basename(SOURCE), osp.basename(ADAPT)]
    for stage in ('source', 'adapt'):
        resolved = Config.fromfile(glob.glob(osp.join(work, stage, 'config', '*.py'))[0])
        assert resolved.train_cfg.max_iters == 1, stage
        assert osp.isdir(osp.join(work, stage) + '.stale'), stage  # the unedited run, set aside
    assert summary['stages']['adapt']['checkpoint'] == osp.join(work, 'adapt', 'iter_1.pth')
    assert summary['stages']['adapt']['load_from'] == summary['stages']['source']['checkpoint']
    before = {s: run_dirs(osp.join(work, s)) for s in ('source', 'adapt')}
    assert run_stages(pipeline['stages'], work, 0, pipeline['data'], TINY, edit=edit) == summary
    assert {s: run_dirs(osp.join(work, s)) for s in ('source', 'adapt')} == before


def test_missing_stage_checkpoint_is_a_clear_error(pipeline, tmp_path):
    # A copy of the finished source stage (reused: same config, load_from and data), whose
    # selection names a checkpoint that is gone (e.g. removed by max_keep_ckpts).
    work = str(tmp_path / 'run')
    shutil.copytree(osp.join(pipeline['work'], 'source'), osp.join(work, 'source'))
    path = osp.join(work, 'source', 'checkpoint_selection.json')
    with open(path) as f:
        selection = json.load(f)
    missing = osp.join(work, 'source', 'iter_9.pth')
    selection['picks']['max_miou']['checkpoint'] = missing
    with open(path, 'w') as f:
        json.dump(selection, f)
    with pytest.raises(FileNotFoundError, match="'max_miou'.*iter_9.pth"):
        run_stages(pipeline['stages'], work, 0, pipeline['data'], TINY)
    assert not osp.exists(osp.join(work, 'adapt'))  # nothing started from a missing checkpoint
    # a rule the selection does not have, and a stage whose config records no selection
    with pytest.raises(ValueError, match="'min_est_ece'.*max_miou"):
        picked_checkpoint(osp.join(work, 'source'), 'min_est_ece')
    with pytest.raises(FileNotFoundError, match='CheckpointSelectionHook'):
        picked_checkpoint(str(tmp_path), 'max_miou')


def test_bad_stages_and_options_are_clear_errors(tmp_path):
    stages = write_stages(tmp_path / 'stages.py')
    with pytest.raises(ValueError, match=r"names the stage 'adpt'.*\['source', 'adapt'\]"):
        run_stages(stages, str(tmp_path / 'w'), cfg_options=['adpt:train_cfg.max_iters=2'])
    with pytest.raises(ValueError, match='--select names'):
        run_stages(stages, str(tmp_path / 'w'), select=dict(nope='max_miou'))
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        load_stages(write_stages(tmp_path / 'missing.py', config='nowhere.py'))
    with pytest.raises(ValueError, match='load_from must name an earlier stage'):
        load_stages(write_stages(tmp_path / 'later.py', load_from='adapt'))
    with pytest.raises(ValueError, match='unknown keys'):
        load_stages(write_stages(tmp_path / 'typo.py', selct='max_miou'))
    assert not osp.exists(tmp_path / 'w')  # errors come before anything is trained
    proc = subprocess.run([sys.executable, RUN, str(tmp_path / 'none.py'), '--work-dir',
                           str(tmp_path / 'w')], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and 'none.py' in proc.stderr


@pytest.mark.parametrize('name', ['toy', 'gta5', 'synthia'])
def test_calsfda_stage_files(name):
    spec = load_stages(osp.join(REPO, 'configs', 'calsfda', f'stages_{name}.py'))
    assert [s['name'] for s in spec['stages']] == ['source', 'value', 'adapt']
    assert [s['load_from'] for s in spec['stages']] == [None, 'source', 'value']
    for stage in spec['stages']:
        cfg = Config.fromfile(stage['config'])
        roots = [r for r in data_roots(cfg._cfg_dict)]
        root = spec['data_root']
        assert roots and all(r == root or r.startswith(root + '/') for r in roots), roots
        if stage['select']:  # the rule the stage hands on by is one its selection hook has
            hooks = list(cfg.get('custom_hooks', [])) + list(cfg.default_hooks.values())
            rules = [r['name'] if isinstance(r, dict) else r for h in hooks
                     if h.get('type') == 'CheckpointSelectionHook' for r in h['rules']]
            assert stage['select'] in rules, (stage['name'], rules)
