"""Two processes through tools/dist_train.sh (torchrun, CPU, gloo): online DACS and offline CBST."""
import json
import os
import os.path as osp
import socket
import subprocess
import functools
import sys

import pytest
import torch.distributed as torch_dist

from conftest import REPO
from toy_self_training import (CBST, DACS, cbst_options, make_source_checkpoint, make_toy_data,
                               size_options)

pytestmark = pytest.mark.skipif(
    not (torch_dist.is_available() and torch_dist.is_gloo_available()),
    reason='torch.distributed with the gloo backend is not available')

STEMS = [f'{i:05d}' for i in range(4)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


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
    opts = [f'load_from={source}', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
            f'train_dataloader.dataset.source.data_root={data}/source',
            f'train_dataloader.dataset.target.data_root={data}/target',
            'train_dataloader.dataset.rare_class_sampling.min_pixels=10', *size_options()]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.batch_size=2', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    opts += [f'{loader}.dataset.data_root={data}/target'
             for loader in ('val_dataloader', 'test_dataloader')]
    out = dist_train(DACS, str(root / 'dacs'), opts)
    assert 'tgt.loss_pl_ce' in out and 'mIoU' in out


def test_cbst_two_processes_label_each_image_once(toy):
    data, source, root = toy
    work = str(root / 'cbst')
    opts = [f'load_from={source}',
            *cbst_options(data, rounds=(1, 1), val_interval=2, ckpt_interval=2)]
    out = dist_train(CBST, work, opts)
    assert 'tgt.loss_pl_ce' in out and 'mIoU' in out
    for r in range(2):
        d = osp.join(work, 'pseudo_labels', f'round_{r}')
        with open(osp.join(d, 'manifest.json')) as f:
            manifest = json.load(f)
        # Each rank labelled its own shard of the 4 images; together every image exactly once.
        assert manifest['images_per_rank'] == [2, 2] and manifest['reused_images'] == 0
        pngs = sorted(n for n in os.listdir(d) if n.endswith('.png'))
        assert pngs == sorted([f'{s}.png' for s in STEMS] + [f'{s}_weight.png' for s in STEMS])
        assert f'round {r}: labelled 4 images' in out


CALSFDA = ('configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
           'toy-source-to-target-128x256.py')


def test_calsfda_stage3_two_processes(toy):
    """BN warm-up, ECE-guided labels sharded over ranks, phase switch under DDP."""
    data, _, root = toy
    value_ckpt = make_source_checkpoint(str(root / 'stage2.pth'), config=CALSFDA)
    target = f'{data}/target'
    opts = [f'load_from={value_ckpt}', 'train_cfg.rounds=[1,1]', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
            'custom_hooks.2.phases.1.begin=1', *size_options()]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                   'train_cfg.label_dataloader', 'custom_hooks.0.dataloader'):
        opts += [f'{loader}.batch_size=2', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False', f'{loader}.dataset.data_root={target}']
    work = str(root / 'calsfda')
    out = dist_train(CALSFDA, work, opts)
    assert 'tgt.loss_sce' in out and 'EstECE' in out and 'BN statistics warm-up' in out
    assert 'iteration 1: ' in out and 'student parameter tensors train' in out  # phase 2
    with open(osp.join(work, 'pseudo_labels', 'round_1', 'manifest.json')) as f:
        assert json.load(f)['images_per_rank'] == [2, 2]
