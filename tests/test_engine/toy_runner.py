"""A tiny teacher-student model and an mmengine Runner around it, for the hook tests."""
import copy
import uuid

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch.utils.data import Dataset


class ToyData(Dataset):
    """``n`` samples ``dict(inputs=[4], targets=[])`` of a noisy linear regression."""

    def __init__(self, n=16, seed=0, shift=0.0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g) + shift
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], targets=self.y[i])


class MLP(nn.Module):
    """Linear-BN-ReLU-Linear with a segmentor-like ``forward(inputs, data_samples, mode)``."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                    nn.Linear(8, 1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.layers(inputs)[:, 0]


class ToyTeacherStudent(BaseModel):
    """``student`` and ``teacher`` MLPs; the loss trains the student only and also runs the
    teacher (whose BN is then in train mode, as DAFormer's), and records pseudo-label statistics
    when ``stats`` is given."""

    def __init__(self, stats=None):
        super().__init__()
        torch.manual_seed(0)  # built before the Runner seeds: every run starts from the same model
        self.student = MLP()
        self.teacher = copy.deepcopy(self.student)
        self.teacher.requires_grad_(False)
        self.stats = stats
        self.pseudo_label_stats = {}

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.student(inputs)
        if mode != 'loss':
            return out
        with torch.no_grad():
            self.teacher(inputs)
        if self.stats is not None:
            self.pseudo_label_stats = self.stats()
        return dict(loss=F.mse_loss(out, targets))


def make_runner(work_dir, max_iters, hooks, model=None, resume_from=None, ckpt_interval=None,
                log_interval=1, **kwargs):
    from mmengine.runner import Runner
    import mmsfda  # noqa: F401  (checkpoint loading under torch >= 2.6)
    return Runner(
        model=model if model is not None else ToyTeacherStudent(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{uuid.uuid4().hex}',
        train_dataloader=dict(dataset=ToyData(), batch_size=4, num_workers=0,
                              sampler=dict(type='InfiniteSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=10 ** 6),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=ckpt_interval or max_iters),
            logger=dict(type='LoggerHook', interval=log_interval)),
        custom_hooks=hooks,
        randomness=dict(seed=0),
        load_from=resume_from,
        resume=resume_from is not None,
        default_scope='mmseg',
        log_level='INFO',
        **kwargs)
