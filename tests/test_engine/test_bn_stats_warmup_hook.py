"""BNStatsWarmupHook: exact target statistics, restricted layers, restored modes, resume, AdaBN."""
import os.path as osp
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch.utils.data import DataLoader, Dataset

from mmsfda.engine.hooks.bn_stats_warmup_hook import BNStatsWarmupHook


class ConvNet(nn.Module):
    """conv - BN - ReLU - conv - BN, with a segmentor-like ``mode='tensor'`` forward."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(inputs)))))


class TeacherStudent(BaseModel):
    """``student``, ``teacher`` and a ``value_net`` on the student's features (Cal-SFDA-like)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.student = ConvNet()
        self.teacher = ConvNet()
        self.value_net = nn.Sequential(nn.BatchNorm2d(4), nn.Conv2d(4, 1, 1))
        self.aux = nn.BatchNorm2d(4)  # on no forward path

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.value_net(self.student(inputs))


class Images(Dataset):
    """Sample i is N(shift + 0.5 * i, 1): batch means differ, so pooling must be exact."""

    def __init__(self, n=6, shift=0.0, key=None, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 5, 6, generator=g) + shift + 0.5 * torch.arange(n).view(
            -1, 1, 1, 1)
        self.key = key

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        np.random.rand()  # an augmentation would consume global randomness
        item = dict(inputs=self.x[i])
        if self.key is None:
            return item
        return {'source': dict(inputs=self.x[i] * 0 - 100.0), self.key: item}


def loader(**kwargs):
    return DataLoader(Images(**kwargs), batch_size=2, shuffle=False)


def pooled(feats):
    """Per-channel mean and unbiased variance of a list of (B, C, H, W) tensors."""
    x = torch.cat([f.transpose(0, 1).reshape(f.shape[1], -1) for f in feats], 1).double()
    return x.mean(1), x.var(1, unbiased=True)


def bn_train(x, bn):
    return F.batch_norm(x, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)


def reference_stats(net, data):
    """Inputs of bn1 and bn2 when both normalise with batch statistics (train mode)."""
    in1, in2 = [], []
    with torch.no_grad():
        for batch in data:
            h = net.conv1(batch['inputs'])
            in1.append(h)
            h = net.conv2(F.relu(bn_train(h, net.bn1)))
            in2.append(h)
    return pooled(in1), pooled(in2)


class FakeLogger:
    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)

    warning = info


def test_exact_pooled_statistics_with_momentum_none():
    model = TeacherStudent()
    data = loader()
    (m1, v1), (m2, v2) = reference_stats(model.student, data)
    with torch.no_grad():
        model.aux.running_mean.fill_(5.0)
    hook = BNStatsWarmupHook()
    logger = FakeLogger()
    assert hook.warmup(model, data, logger=logger) == (3, 5)  # 3 batches, 2+2+1 BN layers
    # a layer no forward reaches keeps its statistics (not left reset) and is reported
    assert (model.aux.running_mean == 5.0).all()
    assert 'not updated' in logger.lines[1] and "'aux'" in logger.lines[1]
    s = model.student
    assert torch.allclose(s.bn1.running_mean.double(), m1, atol=1e-5)
    assert torch.allclose(s.bn1.running_var.double(), v1, rtol=1e-5)
    assert torch.allclose(s.bn2.running_mean.double(), m2, atol=1e-5)
    assert torch.allclose(s.bn2.running_var.double(), v2, rtol=1e-5)
    # the teacher ran on the same data with its own weights
    (tm1, tv1), _ = reference_stats(model.teacher, data)
    assert torch.allclose(model.teacher.bn1.running_var.double(), tv1, rtol=1e-5)
    # not the mean of per-batch variances (BN's own cumulative average): the batches differ
    per_batch = torch.stack([pooled([s.conv1(b['inputs'])])[1] for b in data]).mean(0)
    assert not torch.allclose(per_batch, v1, rtol=1e-2)
    assert int(s.bn1.num_batches_tracked) == 3
    assert '3 batches, 5 BatchNorm layers' in logger.lines[0]


def test_only_chosen_modules_update_and_modes_and_momenta_restored():
    model = TeacherStudent()
    model.train()
    model.teacher.eval()
    model.student.bn2.momentum = 0.3
    modes = {n: m.training for n, m in model.named_modules()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook = BNStatsWarmupHook(modules=['value_net', 'student.bn2'], num_iters=2)
    assert hook.warmup(model, loader()) == (2, 2)
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert changed == {f'{p}.{b}' for p in ('value_net.0', 'student.bn2')
                       for b in ('running_mean', 'running_var', 'num_batches_tracked')}
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert model.student.bn2.momentum == 0.3 and model.value_net[0].momentum == 0.1


def test_exponential_momentum_from_source_statistics():
    model = TeacherStudent()
    bn = model.student.bn1
    with torch.no_grad():
        bn.running_mean.fill_(2.0)
        bn.running_var.fill_(3.0)
    data = loader(n=2)
    hook = BNStatsWarmupHook(modules=['student.bn1'], momentum=0.25, reset=False)
    hook.warmup(model, data)
    (m1, v1), _ = reference_stats(model.student, data)  # one batch
    assert torch.allclose(bn.running_mean.double(), 0.75 * 2.0 + 0.25 * m1, atol=1e-6)
    assert torch.allclose(bn.running_var.double(), 0.75 * 3.0 + 0.25 * v1, atol=1e-5)
    assert bn.momentum == 0.1
    with pytest.raises(ValueError, match='reset=False'):
        BNStatsWarmupHook(momentum=None, reset=False)


def test_layer_reached_twice_per_batch_counts_once():
    """student.bn1 runs in both the student's and the model's forward: momentum applies once."""
    model = TeacherStudent()
    bn = model.student.bn1
    hook = BNStatsWarmupHook(modules=['student.bn1', 'value_net'], momentum=0.5, reset=False)
    with torch.no_grad():
        bn.running_mean.zero_()
    data = loader(n=2)
    hook.warmup(model, data)
    (m1, _), _ = reference_stats(model.student, data)
    assert torch.allclose(bn.running_mean.double(), 0.5 * m1, atol=1e-6)


def test_target_branch_and_rng_untouched():
    model = TeacherStudent()
    pair = DataLoader(Images(key='target'), batch_size=2, shuffle=False)
    plain = loader()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    BNStatsWarmupHook(modules=['student']).warmup(model, pair)
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    (m1, v1), _ = reference_stats(model.student, plain)  # the target images, not the source
    assert torch.allclose(model.student.bn1.running_mean.double(), m1, atol=1e-5)


def test_domain_data_preprocessor_batches():
    """The segmentor's DomainDataPreProcessor nests the branches under inputs/data_samples."""
    from mmengine.dataset import pseudo_collate

    from mmsfda.models.data_preprocessors.domain_data_preprocessor import DomainDataPreProcessor
    pre = DomainDataPreProcessor(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    model = TeacherStudent()
    model.data_preprocessor = pre
    pair = DataLoader(Images(key='target'), batch_size=2, shuffle=False,
                      collate_fn=pseudo_collate)
    BNStatsWarmupHook(modules=['student']).warmup(model, pair)
    (m1, v1), _ = reference_stats(model.student, loader())
    assert torch.allclose(model.student.bn1.running_mean.double(), m1, atol=1e-5)
    assert torch.allclose(model.student.bn1.running_var.double(), v1, rtol=1e-5)
    with pytest.raises(ValueError, match='no `tgt` branch'):
        BNStatsWarmupHook(branch='tgt').warmup(model, pair)


def fake_runner(model, data, it=0, resume=False, val_interval=2):
    loop = SimpleNamespace(val_interval=val_interval, val_begin=1, max_iters=100)
    return SimpleNamespace(model=model, iter=it, train_dataloader=data, logger=FakeLogger(),
                           _resume=resume, seed=0, train_loop=loop, val_loop=object())


def test_runs_once_and_is_skipped_on_resume():
    model = TeacherStudent()
    before = model.student.bn1.running_mean.clone()
    hook = BNStatsWarmupHook()
    hook.before_train(fake_runner(model, loader(), it=3))  # resumed mid-training
    assert torch.equal(model.student.bn1.running_mean, before)
    runner = fake_runner(model, loader())
    hook.before_train(runner)
    warmed = model.student.bn1.running_mean.clone()
    assert not torch.equal(warmed, before)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    # a run resumed from a checkpoint saved at iteration 0 after the warm-up does not redo it
    resumed = BNStatsWarmupHook()
    resumed.after_load_checkpoint(fake_runner(model, None, resume=True), ckpt)
    with torch.no_grad():
        model.student.bn1.running_mean.fill_(7.0)
    resumed.before_train(fake_runner(model, loader(), resume=True))
    assert (model.student.bn1.running_mean == 7.0).all()
    # `load_from` of the same checkpoint (no resume) starts fresh and warms up
    fresh = BNStatsWarmupHook()
    fresh.after_load_checkpoint(fake_runner(model, None, resume=False), ckpt)
    fresh.before_train(fake_runner(model, loader()))
    assert torch.allclose(model.student.bn1.running_mean, warmed)


def test_training_is_undisturbed_and_resume_exact(tmp_path):
    """Warm-up on the (InfiniteSampler) train loader, then train: the training batches are those
    of a run without warm-up, and N iterations == N/2 + resume (which skips it) + N/2."""
    from mmsfda.engine.hooks.mean_teacher_hook import MeanTeacherHook
    from toy_runner import make_runner

    def hooks(warmup=True):
        return ([BNStatsWarmupHook()] if warmup else []) + [MeanTeacherHook(momentum=0.9)]

    def state(work_dir, it):
        return torch.load(osp.join(work_dir, f'iter_{it}.pth'), map_location='cpu',
                          weights_only=False)['state_dict']

    n = 6
    make_runner(tmp_path / 'plain', n, hooks(False)).train()
    full = make_runner(tmp_path / 'full', n, hooks())
    stats0 = full.model.student.layers[1].running_mean.clone()
    full.train()
    make_runner(tmp_path / 'part', n // 2, hooks()).train()
    ckpt = osp.join(tmp_path, 'part', f'iter_{n // 2}.pth')
    rest = make_runner(tmp_path / 'part', n, hooks(), resume_from=ckpt)
    rest.train()

    plain, a, b = (state(tmp_path / d, n) for d in ('plain', 'full', 'part'))
    for k in a:
        assert torch.equal(a[k], b[k]), k  # exact resume
        if 'running' not in k and 'num_batches' not in k:
            # BN normalises with batch statistics in training: the running statistics do not
            # change the gradients, so the same batches give the same weights as without warm-up
            assert torch.equal(a[k], plain[k]), k
    bn_mean = 'student.layers.1.running_mean'
    assert not torch.equal(a[bn_mean], plain[bn_mean])  # the warm-up did change the statistics
    assert not torch.equal(stats0, state(tmp_path / 'part', n // 2)[bn_mean])
    assert torch.load(ckpt, weights_only=False)['bn_stats_warmup'] == dict(done=True)


def test_errors():
    model = TeacherStudent()
    with pytest.raises(ValueError, match='`student.nope` is not a submodule'):
        BNStatsWarmupHook(modules=['student.nope']).warmup(model, loader())
    with pytest.raises(ValueError, match='no BatchNorm layer'):
        BNStatsWarmupHook(modules=['value_net.1']).warmup(model, loader())
    bad = DataLoader([dict(x=torch.zeros(3, 2, 2))], batch_size=1)
    with pytest.raises(ValueError, match='inputs'):
        BNStatsWarmupHook().warmup(model, bad)


# -- AdaBN through mmengine's Runner.train() on a real (tiny) mmseg segmentor -------------------
ADABN = '''
_base_ = ['{repo}/configs/_base_/models/deeplabv2_r18-tiny.py',
          '{repo}/configs/_base_/default_runtime.py']
crop_size = (32, 64)
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes=4))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]
dataset = dict(type='BaseSegDataset', data_root='{data}',
               metainfo=dict(classes=('a', 'b', 'c', 'd')),
               img_suffix='.png', seg_map_suffix='.png',
               data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=pipeline)
train_dataloader = dict(batch_size=2, num_workers=0,
                        sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dataset)
val_dataloader = dict(batch_size=1, num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=0, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1),
                     logger=dict(type='LoggerHook', interval=1),
                     visualization=dict(type='SegVisualizationHook', draw=False))
custom_hooks = [dict(type='BNStatsWarmupHook', save_after=True, evaluate_after=True)]
'''


def test_adabn_through_runner_train_saves_and_evaluates(tiny_seg_data, tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from conftest import REPO
    cfg_path = tmp_path / 'adabn.py'
    cfg_path.write_text(ADABN.format(repo=REPO, data=tiny_seg_data))
    cfg = Config.fromfile(str(cfg_path))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'adabn_test'
    runner = Runner.from_cfg(cfg)
    bn = runner.model.backbone.stem[1]
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    runner.train()
    assert runner.iter == 0
    # evaluated: the validation metrics are in the message hub
    assert 'val/mIoU' in runner.message_hub.log_scalars
    # saved: the warmed-up statistics are in work_dir/iter_0.pth
    ckpt = torch.load(osp.join(cfg.work_dir, 'iter_0.pth'), map_location='cpu',
                      weights_only=False)
    saved = ckpt['state_dict']['backbone.stem.1.running_mean']
    assert not torch.equal(saved, torch.zeros_like(saved))
    assert torch.equal(saved, bn.running_mean)
    assert ckpt['bn_stats_warmup'] == dict(done=True)
    assert ckpt['meta']['iter'] == 0  # a run resumed from it starts at 0 and skips the warm-up


def value_net_reference(model, data, batches):
    """Exact statistics of the value net's BN inputs: the student's output in eval mode."""
    with torch.no_grad():
        model.eval()
        return pooled([model.student(b['inputs']) for b in list(data)[:batches]])


def test_value_net_reestimated_before_every_validation_of_a_training_run():
    """Cal-SFDA's selection point: the value net's BN statistics follow the model being judged
    (here the student changes between validations), on the first `reestimate_iters` batches of
    the warm-up data, and nothing else moves."""
    model = TeacherStudent()
    data = loader()  # 3 batches
    hook = BNStatsWarmupHook(modules=['student', 'value_net'],
                             reestimate_before_val=['value_net'], reestimate_iters=2)
    runner = fake_runner(model, data)
    hook.before_train(runner)  # the warm-up: student and value net, all 3 batches
    vbn = model.value_net[0]
    assert int(vbn.num_batches_tracked) == 3
    for step in range(2):
        with torch.no_grad():  # "training" moves the student
            model.student.conv2.weight.mul_(1.5).add_(0.1)
        student_stats = [b.clone() for b in model.student.bn1.buffers()]
        old = vbn.running_mean.clone()
        hook.before_val(runner)
        mean, var = value_net_reference(model, data, 2)
        assert torch.allclose(vbn.running_mean.double(), mean, atol=1e-5)
        assert torch.allclose(vbn.running_var.double(), var, rtol=1e-4)
        assert not torch.allclose(vbn.running_mean, old)
        assert int(vbn.num_batches_tracked) == 2
        # the validated model itself is left alone
        assert all(torch.equal(a, b) for a, b in zip(model.student.bn1.buffers(), student_stats))
    # after training (e.g. a later runner.val()) the statistics are not touched
    hook.after_train(runner)
    with torch.no_grad():
        model.student.conv2.weight.mul_(2.0)
    old = vbn.running_mean.clone()
    hook.before_val(runner)
    assert torch.equal(vbn.running_mean, old)


def test_without_reestimation_validations_leave_the_value_net_alone():
    """The public code's behaviour: statistics from the warm-up before round 0 only."""
    model = TeacherStudent()
    hook = BNStatsWarmupHook(modules=['student', 'value_net'])
    runner = fake_runner(model, loader())
    hook.before_train(runner)
    old = model.value_net[0].running_mean.clone()
    with torch.no_grad():
        model.student.conv2.weight.mul_(1.5).add_(0.1)
    hook.before_val(runner)
    assert torch.equal(model.value_net[0].running_mean, old)


def test_resumed_run_reestimates_the_value_net_once():
    """A checkpoint is written before its iteration's validation re-estimates the value net; a run
    resumed at a validated iteration re-estimates it in before_train, one resumed elsewhere does
    not (the warm-up itself is never repeated)."""
    model = TeacherStudent()
    data = loader()
    hook = BNStatsWarmupHook(modules=['student', 'value_net'],
                             reestimate_before_val=['value_net'], reestimate_iters=2)
    runner = fake_runner(model, data)
    hook.before_train(runner)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    with torch.no_grad():
        model.value_net[0].running_mean.fill_(3.0)
        model.student.bn1.running_mean.fill_(7.0)
    resumed = BNStatsWarmupHook(modules=['student', 'value_net'],
                                reestimate_before_val=['value_net'], reestimate_iters=2)
    resumed.after_load_checkpoint(fake_runner(model, None, resume=True), ckpt)
    resumed.before_train(fake_runner(model, data, it=3, resume=True))
    # Iteration 3 was not validated (interval 2): the uninterrupted run did not re-estimate there.
    assert (model.value_net[0].running_mean == 3.0).all()
    resumed.before_train(fake_runner(model, data, it=4, resume=True))
    assert (model.student.bn1.running_mean == 7.0).all()  # no second warm-up
    mean, _ = value_net_reference(model, data, 2)
    assert torch.allclose(model.value_net[0].running_mean.double(), mean, atol=1e-5)


def test_reestimation_errors():
    with pytest.raises(ValueError, match='reestimate_iters must be positive'):
        BNStatsWarmupHook(reestimate_before_val=['value_net'], reestimate_iters=0)
    model = TeacherStudent()
    hook = BNStatsWarmupHook(reestimate_before_val=['value_nett'])
    runner = fake_runner(model, loader())
    hook.before_train(runner)
    with pytest.raises(ValueError, match='`value_nett` is not a submodule'):
        hook.before_val(runner)
