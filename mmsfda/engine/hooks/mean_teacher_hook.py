"""EMA teacher update after every training iteration (mean teacher, DACS / DAFormer)."""
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS

_INITS = ('keep', 'copy')


@HOOKS.register_module()
class MeanTeacherHook(Hook):
    """Make ``model.teacher`` an exponential moving average of ``model.student``.

    After training iteration ``i`` (0-based, ``runner.iter``) the student has taken ``t = i + 1``
    optimizer steps and the teacher becomes::

        teacher <- alpha_t * teacher + (1 - alpha_t) * student,
        alpha_t = min(1 - 1 / (t + 1), momentum)   (ramp=True; alpha_t = momentum if ramp=False)

    which is DACS / DAFormer's update (arXiv:2111.14887, Sec. 3.1) at the start of their
    iteration t, so the teacher that labels iteration t is the same (alpha_1 = 0.5, alpha_2 = 2/3,
    ...), and mmengine's ``MomentumAnnealingEMA(gamma=1)``. Note that ``momentum`` is the weight
    of the *teacher*
    (DAFormer's ``alpha``, 0.999), not mmdet's ``momentum`` (the student's weight, 1 - alpha).

    Buffers: with ``skip_buffers=True`` (default, DAFormer) only parameters are averaged and the
    teacher's buffers (BN running statistics) are not touched by this hook: they keep the source
    model's values, or whatever the teacher's own forward passes in train mode make of them
    (DAFormer labels with the teacher in train mode). ``skip_buffers=False`` averages the
    floating-point buffers with the same ``alpha_t`` and copies the others
    (``num_batches_tracked``).

    The update is fused: one ``torch._foreach_mul_`` and one ``torch._foreach_add_`` over the
    precomputed lists of tensors, not a Python loop of per-tensor ops.

    Resume is exact without any state of its own: the EMA is the ``teacher`` submodule (saved in the
    model's checkpoint) and ``t`` comes from ``runner.iter``.

    Args:
        momentum (float): alpha, the teacher's weight in the average, in [0, 1). Defaults to 0.999
            (DAFormer; plain DACS uses 0.99).
        interval (int): Update after every ``interval`` iterations (when ``(i + 1) % interval ==
            0``). Defaults to 1.
        skip_buffers (bool): Average parameters only. Defaults to True.
        ramp (bool): Use the ``1 - 1/(t+1)`` warm-up. Defaults to True.
        init_teacher (str): At a fresh start (``runner.iter == 0``): 'keep' the teacher as the
            segmentor built it (it loads the source checkpoint into both), or 'copy' the student's
            parameters (and buffers unless ``skip_buffers``) into it, as DACS does at iteration 0.
            Never done on resume. Defaults to 'keep'.
    """

    priority = 'NORMAL'

    def __init__(self,
                 momentum: float = 0.999,
                 interval: int = 1,
                 skip_buffers: bool = True,
                 ramp: bool = True,
                 init_teacher: str = 'keep'):
        if not 0 <= momentum < 1:
            raise ValueError(f'momentum (the teacher weight alpha) must be in [0, 1), got '
                             f'{momentum}')
        if not (isinstance(interval, int) and interval > 0):
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        if init_teacher not in _INITS:
            raise ValueError(f'init_teacher must be one of {_INITS}, got {init_teacher!r}')
        self.momentum = momentum
        self.interval = interval
        self.skip_buffers = skip_buffers
        self.ramp = ramp
        self.init_teacher = init_teacher
        self._student: Optional[List[torch.Tensor]] = None
        self._teacher: Optional[List[torch.Tensor]] = None
        self._student_copy: List[torch.Tensor] = []
        self._teacher_copy: List[torch.Tensor] = []

    @staticmethod
    def _unwrap(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _named_tensors(self, module):
        named = [(n, p) for n, p in module.named_parameters()]
        if not self.skip_buffers:
            named += list(module.named_buffers())
        return named

    def _collect(self, model):
        """Check that teacher and student match and cache the tensor lists of the fused update."""
        for name in ('student', 'teacher'):
            if not isinstance(getattr(model, name, None), torch.nn.Module):
                raise AttributeError(f'{type(self).__name__} needs a model with `student` and '
                                     f'`teacher` submodules; {type(model).__name__} has no '
                                     f'`{name}`' + (' (build it with teacher=True)'
                                                    if name == 'teacher' else ''))
        student = self._named_tensors(model.student)
        teacher = self._named_tensors(model.teacher)
        for (ns, ts), (nt, tt) in zip(student, teacher):
            if ns != nt or ts.shape != tt.shape:
                raise ValueError(f'teacher and student differ: student `{ns}` '
                                 f'{tuple(ts.shape)} vs teacher `{nt}` {tuple(tt.shape)}')
        if len(student) != len(teacher):
            longer, which = (student, 'student') if len(student) > len(teacher) else (teacher,
                                                                                      'teacher')
            name = longer[min(len(student), len(teacher))][0]
            raise ValueError(f'teacher and student differ: `{name}` exists only in the {which}')
        floats = [i for i, (_, t) in enumerate(student) if t.is_floating_point()]
        others = [i for i, (_, t) in enumerate(student) if not t.is_floating_point()]
        # .detach() shares storage: in-place updates reach the modules, outside autograd.
        self._student = [student[i][1].detach() for i in floats]
        self._teacher = [teacher[i][1].detach() for i in floats]
        self._student_copy = [student[i][1].detach() for i in others]
        self._teacher_copy = [teacher[i][1].detach() for i in others]

    def before_train(self, runner) -> None:
        model = self._unwrap(runner)
        self._collect(model)
        if self.init_teacher == 'copy' and runner.iter == 0 and self._teacher + self._teacher_copy:
            with torch.no_grad():
                torch._foreach_copy_(self._teacher + self._teacher_copy,
                                     self._student + self._student_copy)
        if any(p.requires_grad for p in model.teacher.parameters()):
            # Freezing here would be too late for DDP, which registers its hooks when it wraps.
            runner.logger.warning('the teacher has parameters with requires_grad=True; the '
                                  'segmentor should freeze them, they are an EMA, not trained')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        t = runner.iter + 1  # optimizer steps taken by the student
        if t % self.interval != 0:
            return
        if self._student is None:
            self._collect(self._unwrap(runner))
        self.ema_update(self.alpha(t))

    def alpha(self, t: int) -> float:
        """Teacher weight after ``t`` student steps: ``min(1 - 1/(t+1), momentum)`` (ramp)."""
        return min(1.0 - 1.0 / (t + 1), self.momentum) if self.ramp else self.momentum

    @torch.no_grad()
    def ema_update(self, alpha: float) -> None:
        """``teacher = alpha * teacher + (1 - alpha) * student``, fused over all tensors."""
        if self._teacher:
            torch._foreach_mul_(self._teacher, alpha)
            torch._foreach_add_(self._teacher, self._student, alpha=1.0 - alpha)
        if self._teacher_copy:  # integer buffers (num_batches_tracked) are copied
            torch._foreach_copy_(self._teacher_copy, self._student_copy)
