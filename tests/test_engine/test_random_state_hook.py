"""RandomStateHook (per-iteration seeds) and the dataloaders' own random streams (mmsfda.compat)."""
import random

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from mmsfda.compat import RNGIsolatedDataLoader, RNGStreams, derive_seed
from mmsfda.engine.hooks import RandomStateHook


def draws():
    """One number from each global generator."""
    return random.random(), float(np.random.rand()), float(torch.rand(()))


class FakeRunner:
    def __init__(self, seed=7, it=0):
        self.seed, self.iter = seed, it


def test_each_iteration_draws_what_its_index_and_seed_give():
    hook = RandomStateHook()
    hook.before_train_iter(FakeRunner(it=3), 0)
    first = draws()
    draws()  # whatever ran before (validation, labelling, another run's history)...
    torch.randn(100)
    hook.before_train_iter(FakeRunner(it=3), 0)
    assert draws() == first  # ...does not change iteration 3's numbers
    hook.before_train_iter(FakeRunner(it=4), 0)
    assert draws() != first
    hook.before_train_iter(FakeRunner(seed=8, it=3), 0)
    assert draws() != first
    # between iterations: after iteration index 2 (3 done) == a run resumed with 3 done
    hook.after_train_iter(FakeRunner(it=2), 0)
    between = draws()
    hook.before_train(FakeRunner(it=3))
    assert draws() == between != first


def test_derive_seed():
    seeds = {derive_seed(0, i, s) for i in range(100) for s in (1, 2)}
    assert len(seeds) == 200 and all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(-1, 5) == derive_seed(2**64 - 1, 5)  # negative seeds are valid


def test_streams_are_separate_from_the_global_generators():
    streams = RNGStreams(3)
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    with streams:
        a = draws()
    after = draws()
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    assert draws() == after  # the global generators did not move
    draws()
    with streams:
        b = draws()
    fresh = RNGStreams(3)
    with fresh:
        assert draws() == a and draws() == b  # the streams continued where they stopped


class RandomItems(Dataset):
    """Items drawn from the global generators, as in-process augmentation does."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([i, random.random(), np.random.rand(), torch.rand(())])


def batches(loader, n, disturb):
    it, out = iter(loader), []
    for _ in range(n):
        if disturb:
            draws()  # the model's random numbers between two batches
        out.append(next(it))
    return torch.cat(out)


def test_runner_dataloaders_draw_from_their_own_streams():
    from mmengine.runner import Runner
    cfg = dict(dataset=RandomItems(), batch_size=2, num_workers=0,
               sampler=dict(type='InfiniteSampler', shuffle=True),
               collate_fn=dict(type='default_collate'))
    loader = Runner.build_dataloader(dict(cfg), seed=1)
    assert isinstance(loader, RNGIsolatedDataLoader)
    torch.manual_seed(0)
    quiet = batches(loader, 6, disturb=False)
    again = Runner.build_dataloader(dict(cfg), seed=1)
    assert torch.equal(batches(again, 6, disturb=True), quiet)  # replayable, undisturbed
    other = Runner.build_dataloader(dict(cfg), seed=2)
    assert not torch.equal(batches(other, 6, disturb=False), quiet)
    # and loading leaves the global generators alone
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    batches(Runner.build_dataloader(dict(cfg), seed=1), 3, disturb=False)
    state = draws()
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    assert draws() == state


@pytest.mark.parametrize('default_hooks, registered', [(None, True),
                                                       (dict(random_state=None), False)])
def test_every_runner_gets_the_hook_unless_switched_off(tmp_path, default_hooks, registered):
    from mmengine.runner import Runner

    from toy_runner import ToyTeacherStudent
    runner = Runner(model=ToyTeacherStudent(), work_dir=str(tmp_path), default_hooks=default_hooks,
                    default_scope='mmseg')
    assert any(isinstance(h, RandomStateHook) for h in runner.hooks) == registered
