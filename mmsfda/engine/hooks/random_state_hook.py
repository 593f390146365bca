"""Exact resume of random training: every iteration's random numbers depend on (seed, iteration)."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner.base_loop import BaseLoop
from mmseg.registry import HOOKS

from ...compat import derive_seed, seed_everything

#: Streams derived from one seed: the training step, and what runs between two steps.
STEP, BETWEEN = 1, 2


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Seed the global random generators from ``(runner.seed, iteration)`` so a resumed run
    draws exactly the random numbers of an uninterrupted one.

    A killed and resumed run must end with the weights of a run that was never interrupted, also
    when the step is random (ClassMix masks, strong augmentation, negative-learning ranks, dropout).
    Saving the generators' states in a checkpoint and restoring them on resume is not enough:
    between a checkpoint and the next step the uninterrupted run validates, relabels the target
    set and re-seeds at a round start (``SelfTrainingLoop``), while the resumed run rebuilds the
    runner and replays the dataloader; each of these draws its own share of random numbers.
    Instead, python's ``random``, numpy's global generator and torch (CPU and CUDA) are seeded

    - before every training iteration ``i`` (``before_train_iter``, ``runner.iter == i``) with
      ``derive_seed(runner.seed, i, STEP)``: the step's randomness depends only on the seed and
      ``i``;
    - when ``n`` iterations are done: after every iteration, after validation during training and
      at ``before_train`` (fresh or resumed) with ``derive_seed(runner.seed, n, BETWEEN)``: what runs
      between two steps (labelling a round, validation) starts from the same state in an
      uninterrupted and in a resumed run.

    The data side is exact through :mod:`mmsfda.compat`: dataloaders built from configs draw from
    their own generators (in-process augmentation, sampler, worker seeds), so the resumed loop's
    skip-ahead replays the data order and augmentation of the skipped iterations. mmengine restores
    ``runner.seed`` from the checkpoint on resume, but builds the train dataloader (sampler and
    data seeds) before that: the data order is only replayed exactly with a fixed
    ``randomness.seed`` in the config (every toy config sets 0). Under DDP every rank uses ``runner.seed`` (equal
    on all ranks unless ``randomness.diff_rank_seed``).

    :mod:`mmsfda.compat` registers it in every ``Runner`` as the default hook ``random_state``
    (``default_hooks=dict(random_state=None)`` switches it off). The checkpoint's
    ``meta['random_state']`` records the scheme, and a run resumed from a
    checkpoint written without this hook logs that it cannot be exact.

    Priority ``VERY_HIGH``: the seeds are set before other hooks of the same stage run.
    """

    priority = 'VERY_HIGH'
    SCHEME = 'per-iteration seed: derive_seed(seed, iteration, stream)'

    def __init__(self) -> None:
        self.last_seed: Optional[int] = None  # the last seed set (for logs and tests)

    def _seed(self, runner, iteration: int, stream: int) -> None:
        self.last_seed = derive_seed(runner.seed, iteration, stream)
        seed_everything(self.last_seed)

    def before_train(self, runner) -> None:
        self._seed(runner, runner.iter, BETWEEN)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._seed(runner, runner.iter, STEP)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # ``runner.iter`` is still the finished iteration's index here: ``iter + 1`` are done.
        self._seed(runner, runner.iter + 1, BETWEEN)

    def after_val(self, runner) -> None:
        # Validation during training must not change what follows it (it is skipped on resume).
        if isinstance(runner._train_loop, BaseLoop):  # (``runner.train_loop`` would build it)
            self._seed(runner, runner.iter, BETWEEN)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['random_state'] = dict(scheme=self.SCHEME,
                                                                 seed=runner.seed)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner._resume:
            return
        meta = checkpoint.get('meta', {})
        if meta.get('random_state', {}).get('scheme') != self.SCHEME:
            runner.logger.warning(
                'RandomStateHook: the checkpoint was written without it, so the resumed run draws '
                'other random numbers than an uninterrupted run would have')
