"""MeanTeacherHook: the DACS/DAFormer EMA with its ramp, the fused update, checks, exact resume."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from mmsfda.engine.hooks.mean_teacher_hook import MeanTeacherHook
from toy_runner import ToyTeacherStudent, make_runner


class Net(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.fc = nn.Linear(2, width).double()
        self.bn = nn.BatchNorm1d(width).double()


class TS(nn.Module):
    def __init__(self, teacher=None):
        super().__init__()
        self.student = Net()
        self.teacher = teacher if teacher is not None else Net()
        self.teacher.requires_grad_(False)


class FakeLogger:
    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)

    warning = info


def fake_runner(model, it=0):
    return SimpleNamespace(model=model, iter=it, logger=FakeLogger())


def randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype) * 3
                    if t.is_floating_point() else torch.randint(0, 100, t.shape, generator=g))


def run_steps(hook, model, steps, start=0):
    """Simulate training: the student gets new weights every iteration, then the hook runs."""
    runner = fake_runner(model, start)
    hook.before_train(runner)
    expected = {n: t.clone() for n, t in model.teacher.state_dict().items()}
    for i in range(start, start + steps):
        randomize(model.student, 1000 + i)  # "the optimizer step"
        runner.iter = i
        t = i + 1
        if t % hook.interval == 0:
            alpha = min(1 - 1 / (t + 1), hook.momentum) if hook.ramp else hook.momentum
            for n, s in model.student.state_dict().items():
                if n.endswith('num_batches_tracked'):
                    if not hook.skip_buffers:
                        expected[n] = s.clone()
                elif n in dict(model.student.named_parameters()) or not hook.skip_buffers:
                    expected[n] = alpha * expected[n] + (1 - alpha) * s
        hook.after_train_iter(runner, i)
    return expected


@pytest.mark.parametrize('ramp', [True, False])
@pytest.mark.parametrize('skip_buffers', [True, False])
def test_ema_math_matches_hand_computation(ramp, skip_buffers):
    model = TS()
    randomize(model.teacher, 0)
    teacher_buffers = {n: b.clone() for n, b in model.teacher.named_buffers()}
    hook = MeanTeacherHook(momentum=0.8, skip_buffers=skip_buffers, ramp=ramp)
    # 8 steps: the ramp 1 - 1/(t+1) is below 0.8 for t < 4 and capped from t = 4 on
    expected = run_steps(hook, model, 8)
    got = model.teacher.state_dict()
    for n in expected:
        assert torch.allclose(got[n].double(), expected[n].double(), rtol=1e-12, atol=1e-12), n
    if skip_buffers:  # buffers untouched
        for n, b in model.teacher.named_buffers():
            assert torch.equal(b, teacher_buffers[n]), n
    else:
        assert not torch.equal(model.teacher.bn.running_mean, teacher_buffers['bn.running_mean'])
        assert torch.equal(model.teacher.bn.num_batches_tracked,
                           model.student.bn.num_batches_tracked)


def test_ramp_values_and_interval():
    hook = MeanTeacherHook(momentum=0.999)
    assert [hook.alpha(t) for t in (1, 2, 3, 9)] == [0.5, 1 - 1 / 3, 0.75, 0.9]
    assert hook.alpha(10 ** 6) == 0.999
    assert MeanTeacherHook(momentum=0.99, ramp=False).alpha(1) == 0.99
    model = TS()
    hook = MeanTeacherHook(momentum=0.9, interval=3)
    expected = run_steps(hook, model, 7)
    for n, p in model.teacher.named_parameters():
        assert torch.allclose(p, expected[n], rtol=1e-12, atol=1e-12)


def test_first_update_averages_source_and_student_equally():
    """DAFormer: the teacher labelling iteration 1 is 0.5 * theta_0 + 0.5 * theta_1."""
    model = TS()
    theta0 = copy.deepcopy(model.teacher.fc.weight)
    hook = MeanTeacherHook()
    runner = fake_runner(model)
    hook.before_train(runner)
    randomize(model.student, 5)
    hook.after_train_iter(runner, 0)
    assert torch.allclose(model.teacher.fc.weight, 0.5 * theta0 + 0.5 * model.student.fc.weight)


def test_update_is_fused(monkeypatch):
    calls = {'mul': [], 'add': []}
    mul, add = torch._foreach_mul_, torch._foreach_add_

    def spy_mul(tensors, *args, **kwargs):
        calls['mul'].append(len(tensors))
        return mul(tensors, *args, **kwargs)

    def spy_add(tensors, *args, **kwargs):
        calls['add'].append(len(tensors))
        return add(tensors, *args, **kwargs)

    monkeypatch.setattr(torch, '_foreach_mul_', spy_mul)
    monkeypatch.setattr(torch, '_foreach_add_', spy_add)
    model = TS()
    hook = MeanTeacherHook(momentum=0.9)
    run_steps(hook, model, 3)
    n_params = len(list(model.student.parameters()))
    assert calls == {'mul': [n_params] * 3, 'add': [n_params] * 3}
    calls['mul'].clear()
    hook = MeanTeacherHook(momentum=0.9, skip_buffers=False)
    run_steps(hook, model, 1)
    assert calls['mul'] == [n_params + 2]  # + running_mean, running_var


def test_init_teacher_copy_only_on_fresh_start():
    model = TS()
    randomize(model.teacher, 3)
    hook = MeanTeacherHook(init_teacher='copy')
    hook.before_train(fake_runner(model, it=5))  # resumed: untouched
    assert not torch.equal(model.teacher.fc.weight, model.student.fc.weight)
    hook.before_train(fake_runner(model, it=0))
    for (n, s), t in zip(model.student.named_parameters(), model.teacher.parameters()):
        assert torch.equal(s, t), n
    # parameters only: the BN statistics stay the teacher's
    assert not torch.equal(model.teacher.bn.running_mean, model.student.bn.running_mean)
    keep = TS()
    randomize(keep.teacher, 3)
    before = copy.deepcopy(keep.teacher.state_dict())
    MeanTeacherHook().before_train(fake_runner(keep))
    assert all(torch.equal(before[k], v) for k, v in keep.teacher.state_dict().items())


def test_mismatch_errors():
    with pytest.raises(ValueError, match=r'student `fc.weight` \(3, 2\) vs teacher `fc.weight` '
                                         r'\(4, 2\)'):
        MeanTeacherHook().before_train(fake_runner(TS(teacher=Net(width=4))))
    other = Net()
    other.extra = nn.Linear(1, 1).double()
    with pytest.raises(ValueError, match='`extra.weight` exists only in the teacher'):
        MeanTeacherHook().before_train(fake_runner(TS(teacher=other)))
    no_teacher = nn.Module()
    no_teacher.student = Net()
    with pytest.raises(AttributeError, match='no `teacher`'):
        MeanTeacherHook().before_train(fake_runner(no_teacher))
    with pytest.raises(ValueError, match='momentum'):
        MeanTeacherHook(momentum=1.0)
    with pytest.raises(ValueError, match='init_teacher'):
        MeanTeacherHook(init_teacher='student')


def test_registered():
    from mmseg.registry import HOOKS
    import mmsfda  # noqa: F401
    hook = HOOKS.build(dict(type='MeanTeacherHook', momentum=0.99))
    assert isinstance(hook, MeanTeacherHook) and hook.momentum == 0.99


def teacher_and_student(path):
    sd = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return sd


def test_resume_is_exact(tmp_path):
    """N iterations in one run == N/2, then a resumed run for the other N/2 (teacher included)."""
    n = 6
    full = make_runner(tmp_path / 'full', n, [MeanTeacherHook(momentum=0.9)])
    full.train()
    half = make_runner(tmp_path / 'part', n // 2, [MeanTeacherHook(momentum=0.9)])
    half.train()
    ckpt = osp.join(tmp_path, 'part', f'iter_{n // 2}.pth')
    rest = make_runner(tmp_path / 'part', n, [MeanTeacherHook(momentum=0.9)], resume_from=ckpt)
    rest.train()
    assert rest.iter == n

    a = teacher_and_student(osp.join(tmp_path, 'full', f'iter_{n}.pth'))
    b = teacher_and_student(osp.join(tmp_path, 'part', f'iter_{n}.pth'))
    h = teacher_and_student(ckpt)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    w = 'teacher.layers.0.weight'
    assert not torch.equal(b[w], h[w])  # the teacher moved in the second half
    assert not torch.equal(b[w], b['student.layers.0.weight'])  # and is an average, not a copy
    assert isinstance(full.model, ToyTeacherStudent)
