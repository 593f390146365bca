"""T2S-DA resumes exactly: prototypes, key queues, the re-weighting scores, the key head's EMA and
the random query / negative draws continue as in a run never interrupted (kill-and-resume helpers
of test_exact_resume)."""
import os.path as osp

import pytest
import torch

from test_exact_resume import Killed, KillAfterIter, differing, make_cfg, train, weights
from toy_self_training import make_source_checkpoint, make_toy_data

T2SDA = 'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py'
ITERS = 4


def cfg(data, work, source, **kwargs):
    return make_cfg(T2SDA, data, work, [
        f'load_from={source}', f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=1000',
        'default_hooks.checkpoint.interval=2', f'param_scheduler.0.end={ITERS}',
        'train_dataloader.dataset.rare_class_sampling.min_pixels=10',
        'model.memory.queue_size=16', 'model.memory.queue_push=4'], **kwargs)


def test_t2sda_killed_mid_training_resumes_exactly(tmp_path):
    data = make_toy_data(str(tmp_path))
    source = make_source_checkpoint(str(tmp_path / 'source.pth'), config=T2SDA)
    reference = tmp_path / 'reference'
    train(cfg(data, reference, source))
    work = tmp_path / 'work'
    with pytest.raises(Killed):
        train(cfg(data, work, source), hooks=[KillAfterIter(3)])
    assert osp.isfile(work / 'iter_2.pth') and not osp.exists(work / f'iter_{ITERS}.pth')
    runner = train(cfg(data, work, source, resume=True))
    assert runner.iter == ITERS
    final = str(reference / f'iter_{ITERS}.pth')
    state = weights(final)
    changed = differing(str(reference / 'iter_2.pth'), final)
    for key in ('aux.t2s_memory.prototypes', 'aux.t2s_memory.queue', 'aux.t2s_reweighting.score',
                'aux.key_projection.mlp.0.weight'):
        assert key in changed, f'{key} does not change between iterations 2 and 4'
    assert state['aux.t2s_memory.queue_len'].sum() > 0
    diff = differing(final, str(work / f'iter_{ITERS}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'
