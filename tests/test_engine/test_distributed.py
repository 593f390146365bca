"""Two CPU processes (torchrun, gloo): DACS through tools/dist_train.sh, then every toy config in one
torchrun with identical weights on both ranks."""
import json
import os
import os.path as osp
import subprocess
import functools
import glob
import sys

import pytest
import torch.distributed as torch_dist

from conftest import REPO, free_port
from toy_self_training import CBST, DACS, make_source_checkpoint, make_toy_data, uda_options

pytestmark = pytest.mark.skipif(
    not (torch_dist.is_available() and torch_dist.is_gloo_available()),
    reason='torch.distributed with the gloo backend is not available')

STEMS = [f'{i:05d}' for i in range(4)]


# mmengine 0.10.7 alone cannot run DDP with a CPU-only torch: `_init_dist_pytorch` calls
# `torch.cuda.set_device(local_rank)` whatever the backend, and `Runner.wrap_model` gives
# `device_ids=[local_rank]` to DistributedDataParallel, which rejects it for a CPU module.
# mmsfda.compat handles both; this checks it the way the Runner does it.
@functools.lru_cache()
def cpu_ddp_error():
    """None if a CPU model can be wrapped for DDP the way mmengine's Runner does it (after
    ``import mmsfda``), else the error."""
    code = ('import os, torch, mmsfda; from mmengine.dist import init_dist; '
            'from mmengine.model import MMDistributedDataParallel as DDP; '
            "init_dist('pytorch', backend='gloo'); "
            "DDP(module=torch.nn.Linear(2, 2), device_ids=[int(os.environ['LOCAL_RANK'])])")
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    return None if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1]


def test_ddp_on_cpu():
    """mmsfda.compat lets mmengine wrap a CPU model for DDP (gloo, no CUDA device)."""
    assert cpu_ddp_error() is None


def dist_train(config, work_dir, opts):
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    cmd = ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir, '--cfg-options',
           'env_cfg.dist_cfg.backend=gloo', *opts]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth')), out[-3000:]
    return out


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_dist')
    data = make_toy_data(str(root))
    return data, make_source_checkpoint(str(root / 'source.pth')), root


def test_dacs_two_processes(toy):
    data, source, root = toy
    opts = uda_options(data, source)
    out = dist_train(DACS, str(root / 'dacs'), opts)
    assert 'tgt.loss_pl_ce' in out and 'mIoU' in out


# ------------------------------------------------------------------ every toy config, 2 processes
TOY_CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*', '*toy*.py'))
                     if not osp.basename(p).startswith('stages'))


def toy_job(config, root):
    from mmengine.config import Config

    from test_source_free import initial_checkpoint
    cfg = Config.fromfile(config)
    name = osp.splitext(osp.basename(config))[0]
    trains = True
    if cfg.model.get('type') == 'EnsembleSegmentor':  # evaluated and labels, never trained
        options, trains = ['train_cfg.max_iters=0'], False
    elif 'rounds' in cfg.train_cfg:
        options = ['train_cfg.rounds=[1,1]']
    elif cfg.train_cfg.get('max_iters'):
        options = ['train_cfg.max_iters=2']
    else:
        options, trains = [], False  # AdaBN: no training iteration
    options += black_box_options(cfg, root, name) + translator_options(cfg, root, name)
    return dict(name=name, config=osp.relpath(config, REPO), options=options, trains=trains,
                load_from=initial_checkpoint(cfg, str(root / f'{name}_init.pth')))


def black_box_options(cfg, root, name):
    """A config that trains from black-box source predictions (``LoadSourcePredictions`` in its
    train pipeline) gets a directory of them, written by the repository's tool from a seeded
    model of the config's network on the test's toy data (``<root>/data``)."""
    pipeline = cfg.train_dataloader.dataset.get('pipeline') or []
    index = next((i for i, t in enumerate(pipeline) if t['type'] == 'LoadSourcePredictions'), None)
    if index is None:
        return []
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from atp_black_box_predictions import main as write_predictions
    from mmengine.config import Config
    api = str(root / f'{name}_api.py')  # the plain network the predictions come from
    Config(dict(model=cfg.model.student, default_scope='mmseg',
                custom_imports=cfg.custom_imports)).dump(api)
    source = make_source_checkpoint(str(root / f'{name}_api.pth'), config=cfg.filename)
    out = str(root / f'{name}_predictions')
    write_predictions([api, source, str(root / 'data' / 'target' / 'images' / 'train'),
                       '--out', out])
    return [f'train_dataloader.dataset.pipeline.{index}.pred_dir={out}']


TRANSLATOR = 'configs/diga/diga-translator_munit-lite-tiny_1xb2-500_toy-source-to-target-128x256.py'


def translator_options(cfg, root, name):
    """A config whose mixture uses a learned translator (DiGA) gets the weights of a seeded,
    untrained toy MUNITLite, as its stages file would hand on a trained one."""
    translator = (cfg.model.get('mixture') or {}).get('translator') or {}
    if translator.get('type') != 'LearnedTranslatedView':
        return []
    from mmengine.config import Config
    from mmseg.registry import MODELS
    import torch
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(REPO, TRANSLATOR)).model)
    model.init_weights()
    path = str(root / f'{name}_translator.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return [f'model.mixture.translator.checkpoint={path}']


def test_every_toy_config_under_ddp(tmp_path):
    """One torchrun of 2 CPU processes trains every toy config a couple of iterations (rounds of
    one iteration, validation at the end): none fails (e.g. on parameters without gradients),
    every training config changes the weights, and both ranks end with identical parameters."""
    data = make_toy_data(str(tmp_path))
    jobs = [toy_job(c, tmp_path) for c in TOY_CONFIGS]
    with open(tmp_path / 'jobs.json', 'w') as f:
        json.dump(jobs, f)
    out = tmp_path / 'out.json'
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           f'--master_port={free_port()}', osp.join(REPO, 'tests', 'test_engine', 'ddp_worker.py'),
           '--jobs', str(tmp_path / 'jobs.json'), '--data', data, '--work', str(tmp_path / 'work'),
           '--out', str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    progress = ''.join(f'{p}:\n' + open(p).read() for p in sorted(glob.glob(f'{out}.rank*')))
    assert proc.returncode == 0 and out.exists(), (proc.stdout + proc.stderr)[-4000:] + progress
    with open(out) as f:
        ranks = json.load(f)
    errors = {name: r['error'] for rank in ranks for name, r in rank.items() if not r['ok']}
    assert not errors, '\n\n'.join(f'{k}:\n{v}' for k, v in errors.items())
    for job in jobs:
        a, b = (rank[job['name']] for rank in ranks)
        assert a['params'].keys() == b['params'].keys()
        differ = [k for k in a['params'] if a['params'][k] != b['params'][k]]
        assert not differ, f"{job['name']}: ranks hold different parameters: {differ[:5]}"
        if job['trains']:
            assert a['changed'] > 0, f"{job['name']}: training changed no parameter"
    # The CBST rounds were labelled in shards, every image once.
    cbst = osp.splitext(osp.basename(CBST))[0]
    with open(tmp_path / 'work' / cbst / 'pseudo_labels' / 'round_1' / 'manifest.json') as f:
        assert json.load(f)['images_per_rank'] == [2, 2]


def test_process_group_destroyed_at_exit():
    """A process whose group was made by mmengine's ``init_dist`` has it destroyed before the
    interpreter shuts down (gloo's threads otherwise may abort the exit: compat item 9). The
    handler that prints runs after mmsfda's, as it was registered before ``init_dist``."""
    code = ('import atexit, torch.distributed as d, mmsfda; from mmengine.dist import init_dist; '
            "atexit.register(lambda: print('alive at exit:', d.is_initialized())); "
            "init_dist('pytorch', backend='gloo'); print('alive after init:', d.is_initialized())")
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'alive after init: True' in proc.stdout and 'alive at exit: False' in proc.stdout


def test_finished_distributed_run_exits_without_teardown():
    """The repository's tools end a finished multi-process run through
    ``exit_finished_distributed_run``: the group is destroyed, every exit handler still runs,
    buffered output is not lost, the exit code is kept, and nothing after it runs."""
    code = ('import atexit, sys, torch.distributed as d, mmsfda; from mmengine.dist import init_dist; '
            'from mmsfda.compat import exit_finished_distributed_run; '
            "atexit.register(lambda: print('handler ran, group alive:', d.is_initialized())); "
            "init_dist('pytorch', backend='gloo'); sys.stdout.write('buffered tail\\n'); "
            "exit_finished_distributed_run(3); print('not reached')")
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert 'buffered tail' in proc.stdout and 'not reached' not in proc.stdout
    assert 'handler ran, group alive: False' in proc.stdout
