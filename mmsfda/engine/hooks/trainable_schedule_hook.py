"""Change which student parameters train as training goes on (Cal-SFDA's TENT epoch)."""
from typing import Dict, List, Sequence, Union

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS


@HOOKS.register_module()
class TrainableScheduleHook(Hook):
    """Switch the trainable parameters of a ``SelfTrainingSegmentor``'s student at given iterations.

    Cal-SFDA (arXiv:2308.03003; its public code) adapts in two phases: during the first target epoch
    only normalisation parameters train (a TENT-like step), afterwards only the decoder::

        default_hooks = dict(trainable_schedule=dict(type='TrainableScheduleHook', phases=dict(
            norm=dict(begin=0, trainable='norm'),
            decoder=dict(begin=150, trainable=[r'decode_head\\.']))))

    Named phases (a dict) can be changed by name from the command line
    (``--cfg-options default_hooks.trainable_schedule.phases.decoder.begin=2``); a list of phases
    works too.

    Each phase calls ``model.set_trainable(trainable)`` (None: all, ``'norm'``, or regular
    expressions on the student's parameter names) when iteration ``begin`` is about to run. The
    phase follows ``runner.iter``, so a resumed run trains the right parameters. Frozen parameters
    stay in the optimizer and get no gradient (``None``), so SGD leaves them, weight decay included.

    Under DDP, build the wrapper with ``find_unused_parameters=True``: its reducer is set up before
    the first phase, with the parameters trainable at construction.

    Args:
        phases (dict[str, dict] | Sequence[dict]): ``dict(begin=int, trainable=...)`` per phase,
            by name or in a list; they run in the order of ``begin``, the first at 0.
    """

    priority = 'VERY_HIGH'

    def __init__(self, phases: Union[Dict[str, dict], Sequence[dict]]):
        if isinstance(phases, dict):
            phases = list(phases.values())
        phases = sorted((dict(p) for p in phases), key=lambda p: p['begin'])
        if not phases or phases[0]['begin'] != 0:
            raise ValueError(f'phases must start with begin=0, got {phases}')
        if any(set(p) != {'begin', 'trainable'} for p in phases):
            raise ValueError(f'each phase is dict(begin=..., trainable=...), got {phases}')
        if len({p['begin'] for p in phases}) != len(phases):
            raise ValueError(f'two phases begin at the same iteration: {phases}')
        self.phases: List[dict] = phases

    def phase_at(self, iteration: int) -> dict:
        """The phase that trains iteration ``iteration``."""
        return [p for p in self.phases if p['begin'] <= iteration][-1]

    def _apply(self, runner, phase: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not callable(getattr(model, 'set_trainable', None)):
            raise TypeError(f'TrainableScheduleHook needs a model with set_trainable() (a '
                            f'SelfTrainingSegmentor), got {type(model).__name__}')
        names = model.set_trainable(phase['trainable'])
        runner.logger.info(f'iteration {runner.iter}: {len(names)} student parameter tensors '
                           f'train (trainable={phase["trainable"]!r})')

    def before_train(self, runner) -> None:
        if get_world_size() > 1:
            runner.logger.warning('TrainableScheduleHook under DDP: build the model wrapper with '
                                  'find_unused_parameters=True')
        self._apply(runner, self.phase_at(runner.iter))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        phase = self.phase_at(runner.iter)
        if phase['begin'] == runner.iter and runner.iter > 0:
            self._apply(runner, phase)
