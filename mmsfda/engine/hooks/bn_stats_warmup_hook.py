"""Re-estimate BatchNorm running statistics on target data before training (AdaBN, Cal-SFDA C4)."""
import random
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mmseg.registry import HOOKS

_CKPT_KEY = 'bn_stats_warmup'


class _RunningMoments:
    """Per-channel count, mean and sum of squared deviations of a BN layer's inputs (float64).

    Batches are merged with Chan et al.'s parallel update, which is exact and stable (no
    ``E[x^2] - E[x]^2`` cancellation). Used as a forward pre-hook; only the layer's first call
    per warm-up batch counts (a layer reached by two of the networks run on a batch, e.g. the
    student's forward and the whole model's, must not see the batch twice): later calls are
    ignored here and, with an exponential ``momentum``, run with BN momentum 0 (no update).
    """

    def __init__(self, batch_counter: list, momentum: Optional[float]):
        self.batch_counter = batch_counter
        self.momentum = momentum
        self.last_batch = -1
        self.n = 0
        self.mean = None
        self.m2 = None
        self.calls = 0

    def __call__(self, module, args):
        if self.last_batch == self.batch_counter[0]:
            if self.momentum is not None:
                module.momentum = 0.0
            return
        self.last_batch = self.batch_counter[0]
        self.calls += 1
        if self.momentum is not None:  # BN's own update does the work; only count
            module.momentum = self.momentum
            self.n += args[0].numel() // args[0].shape[1]
            return
        x = args[0].detach()
        x = x.transpose(0, 1).reshape(x.shape[1], -1).double()  # (C, N*H*W)
        nb = x.shape[1]
        mb = x.mean(dim=1)
        m2b = (x - mb[:, None]).pow(2).sum(dim=1)
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta.pow(2) * (self.n * nb / n)
        self.n = n

    def reduce_across_ranks(self, num_channels, device):
        """Pool the moments of all ranks (every rank must call it, in the same layer order)."""
        n = torch.tensor([float(self.n)], dtype=torch.float64, device=device)
        mean = self.mean if self.n else torch.zeros(num_channels, dtype=torch.float64,
                                                    device=device)
        m2 = self.m2 if self.n else torch.zeros_like(mean)
        s, q = mean * n, m2 + n * mean.pow(2)
        for t in (n, s, q):
            all_reduce(t, op='sum')
        self.n = int(n.item())
        if self.n:
            self.mean = s / n
            self.m2 = (q - n * self.mean.pow(2)).clamp(min=0)


@HOOKS.register_module()
class BNStatsWarmupHook(Hook):
    """Re-estimate the running statistics of BatchNorm layers on target data, before training.

    In ``before_train`` of a fresh run (``runner.iter == 0``, and not resumed from a checkpoint in
    which it already ran), the chosen BN layers are put in train mode and everything else in eval
    mode, and ``num_iters`` batches run through the model under ``no_grad``; then every module's
    mode and every BN momentum are restored. This is AdaBN (Li et al. 2016) when it covers all BN
    layers, and Cal-SFDA's value-net warm-up (arXiv:2308.03003) with ``modules=['value_net']``.

    * ``momentum=None`` (default): the running mean and variance become the exact per-channel
      mean and unbiased variance of the layer's inputs over all warm-up pixels (pooled over batches
      and, under DDP, over ranks) -- the AdaBN estimate. BN's own cumulative average would average
      per-batch variances, which misses the spread of the batch means. Needs ``reset=True``.
    * ``momentum=m``: BN's usual exponential update with momentum ``m`` (Cal-SFDA's code: 0.1),
      starting from the source statistics (``reset=False``) or from mean 0 / var 1 (``reset=True``).

    Data: ``dataloader`` (a config dict, built with ``Runner.build_dataloader``, or a DataLoader),
    by default the runner's train dataloader. The batch goes through the model's
    ``data_preprocessor(batch, training=False)``; a result with a ``branch`` (``'source'`` /
    ``'target'`` of a ``DomainPairDataset`` batch), at the top level or under ``inputs`` /
    ``data_samples`` as ``DomainDataPreProcessor`` returns it, is reduced to that branch; a plain
    mmseg batch (target-only training) is used as it is. The warm-up never disturbs training: a
    loader with an ``InfiniteSampler`` (the iteration-based train loader) or persistent workers is
    rebuilt with its own one-pass ``DefaultSampler`` (see :func:`_independent_loader`), and the
    python / numpy / torch RNG states are restored afterwards, so the training batches and
    augmentations are those of a run without warm-up, and a resumed run (which skips the warm-up)
    sees the same ones as the uninterrupted run.

    Forward: each network holding a chosen BN layer runs its ``mode='tensor'`` forward (for a
    segmentor, ``extract_feat`` and the decode head, so BN in heads is re-estimated too): for a
    teacher-student model, ``model.student`` and/or ``model.teacher``, and ``model`` itself for BN
    layers outside both (e.g. a value net, reached if the model's ``_forward`` runs it).

    Re-estimation at every selection point (``reestimate_before_val``, e.g.
    ``['student.value_head']``): the BN layers under these names are re-estimated again, on the same
    warm-up data and with the same ``reset`` / ``momentum``, right before every validation of the
    training run (mmengine's ``before_val``), so that a label-free selection metric computed by them
    (Cal-SFDA's value net, whose input statistics move while stage 3 trains) reads statistics of the
    model being judged, not those of the model before round 0. Give only layers the validated
    model's own prediction does not depend on (a value net), or the validation changes what it
    evaluates. ``reestimate_iters`` batches (default: as ``num_iters``) of the same deterministic
    order are used each time, so two validations differ only by the model. After a resume at an
    iteration that was validated, the layers are re-estimated once in ``before_train`` (the
    checkpoint was written before that validation re-estimated them), so the resumed run holds the
    statistics the uninterrupted one had; at other iterations nothing is re-estimated. The warm-up data must be target images (a source-free
    method must not see source data here either).

    AdaBN through ``Runner.train()`` (mmseg's ``tools/train.py``): mmengine's ``IterBasedTrainLoop``
    with ``max_iters=0`` runs no iteration, so it neither saves nor validates; ``save_after=True``
    writes ``work_dir/iter_<iter>.pth`` (``iter_0.pth``) and ``evaluate_after=True`` runs the validation loop right
    after the warm-up. An AdaBN config on top of a source config::

        load_from = 'source.pth'
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=0, val_interval=1)
        param_scheduler = []
        custom_hooks = [dict(type='BNStatsWarmupHook', save_after=True, evaluate_after=True)]
        # train_dataloader: the target images (a plain mmseg dataset or a domain pair)

    Args:
        dataloader (dict | DataLoader, optional): Warm-up data. Defaults to the train dataloader.
        num_iters (int, optional): Number of batches. Defaults to one pass (``len(dataloader)``).
        modules (Sequence[str], optional): Dotted names of the submodules whose BN layers are
            re-estimated (e.g. ``['student.backbone', 'value_net']``). Defaults to all BN layers.
        reset (bool): Reset the statistics first. Defaults to True.
        momentum (float, optional): See above. Defaults to None (exact pooled statistics).
        branch (str, optional): Key of the batch branch to use. Defaults to 'target'.
        save_after (bool): When training ends, save the model as ``work_dir/iter_<iter>.pth``. Defaults to
            False.
        evaluate_after (bool): Run ``runner.val_loop`` when training ends (for AdaBN's
            ``max_iters=0``: right after the warm-up). Defaults to False.
        reestimate_before_val (Sequence[str], optional): Dotted names of submodules whose BN
            layers are re-estimated before every validation (see above). Defaults to None (only
            the warm-up before training).
        reestimate_iters (int, optional): Batches of each re-estimation. Defaults to
            ``num_iters`` (one pass over the warm-up data).
    """

    priority = 'ABOVE_NORMAL'  # before MeanTeacherHook, which may copy the student's buffers

    def __init__(self,
                 dataloader: Union[dict, DataLoader, None] = None,
                 num_iters: Optional[int] = None,
                 modules: Optional[Sequence[str]] = None,
                 reset: bool = True,
                 momentum: Optional[float] = None,
                 branch: Optional[str] = 'target',
                 save_after: bool = False,
                 evaluate_after: bool = False,
                 reestimate_before_val: Optional[Sequence[str]] = None,
                 reestimate_iters: Optional[int] = None):
        if momentum is None and not reset:
            raise ValueError('momentum=None replaces the statistics by exact target statistics, '
                             'so reset=False has no meaning; give a momentum (e.g. 0.1) to update '
                             'the source statistics instead')
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f'momentum must be None or in [0, 1], got {momentum}')
        if num_iters is not None and num_iters < 1:
            raise ValueError(f'num_iters must be positive, got {num_iters}')
        if reestimate_iters is not None and reestimate_iters < 1:
            raise ValueError(f'reestimate_iters must be positive, got {reestimate_iters}')
        if isinstance(modules, str):
            modules = [modules]
        if isinstance(reestimate_before_val, str):
            reestimate_before_val = [reestimate_before_val]
        self.dataloader = dataloader
        self.num_iters = num_iters
        self.modules = None if modules is None else list(modules)
        self.reset = reset
        self.momentum = momentum
        self.branch = branch
        self.save_after = save_after
        self.evaluate_after = evaluate_after
        self.reestimate_before_val = (None if not reestimate_before_val else
                                      list(reestimate_before_val))
        self.reestimate_iters = reestimate_iters
        self.done = False  # ran in this run or in the run this one resumes
        self._loader = None
        self._training = False  # between before_train and the end of after_train

    # -- runner interface ------------------------------------------------------------------
    def _warmup_loader(self, runner):
        """The warm-up data, built once per run."""
        if self._loader is None:
            if self.dataloader is None:
                self._loader = runner.train_dataloader
            elif isinstance(self.dataloader, dict):
                self._loader = runner.build_dataloader(self.dataloader, seed=runner.seed)
            else:
                self._loader = self.dataloader
        return self._loader

    def before_train(self, runner) -> None:
        self._training = True
        if runner.iter > 0 or self.done:
            runner.logger.info(f'BN statistics warm-up skipped (resumed at iteration '
                               f'{runner.iter}, warm-up done before)')
            if self.reestimate_before_val and runner.iter > 0 and _validated_at(runner):
                self._reestimate(runner, 'after resume')
            return
        num_batches, num_layers = self.warmup(runner.model, self._warmup_loader(runner),
                                              logger=runner.logger)
        self.done = True
        self.num_batches, self.num_layers = num_batches, num_layers
        self._warmed_this_run = True

    def before_val(self, runner) -> None:
        # Only the validations of a training run (a plain `runner.val()` judges a finished model).
        if self.reestimate_before_val and self._training:
            self._reestimate(runner, f'before the validation at iteration {runner.iter}')

    def _reestimate(self, runner, when: str) -> None:
        runner.logger.info(f'BN statistics of {self.reestimate_before_val} re-estimated on the '
                           f'warm-up data {when}')
        self.warmup(runner.model, self._warmup_loader(runner), logger=runner.logger,
                    modules=self.reestimate_before_val,
                    num_iters=self.reestimate_iters or self.num_iters)

    def after_train(self, runner) -> None:
        try:
            self._after_train(runner)
        finally:
            self._training = False

    def _after_train(self, runner) -> None:
        # Saved and evaluated after the train loop (right after the warm-up when max_iters=0, as
        # for AdaBN): in before_train, mmengine's CheckpointHook has not set up its best-checkpoint
        # bookkeeping yet, and evaluating there breaks `save_best`.
        if not getattr(self, '_warmed_this_run', False):
            return
        if self.save_after:
            # meta iter = the current iteration (mmengine would write iter + 1), so that a run
            # resumed from this file starts at this iteration and skips the warm-up. Named like
            # mmengine's iteration checkpoints (iter_0.pth for AdaBN's max_iters=0).
            name = f'iter_{runner.iter}.pth'
            runner.save_checkpoint(runner.work_dir, name,
                                   meta=dict(epoch=runner.epoch, iter=runner.iter))
            runner.logger.info(f'BN warm-up model saved to {runner.work_dir}/{name}')
        if self.evaluate_after:
            if runner.val_loop is None:
                raise ValueError('evaluate_after=True needs val_dataloader, val_evaluator and '
                                 'val_cfg in the config')
            runner.val_loop.run()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_CKPT_KEY] = dict(done=self.done)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only a resumed run skips the warm-up because of the checkpoint; `load_from` (e.g. a
        # source model or an AdaBN model to adapt further) starts fresh.
        if getattr(runner, '_resume', False):
            self.done = bool(checkpoint.get(_CKPT_KEY, {}).get('done', False))

    # -- the warm-up -----------------------------------------------------------------------
    def select_bn_layers(self, model: nn.Module,
                         modules: Optional[Sequence[str]] = None) -> Dict[str, _BatchNorm]:
        """The BN layers (with running statistics) under ``modules`` (default
        ``self.modules``), by full name."""
        modules = self.modules if modules is None else modules
        roots = [''] if modules is None else modules
        layers = {}
        for root in roots:
            try:
                sub = model.get_submodule(root)
            except AttributeError:
                children = ', '.join(n for n, _ in model.named_children())
                raise ValueError(f'{type(self).__name__}: `{root}` is not a submodule of '
                                 f'{type(model).__name__} (its children: {children})') from None
            for name, m in sub.named_modules(prefix=root):
                if isinstance(m, _BatchNorm) and m.track_running_stats:
                    layers[name] = m
        if not layers:
            raise ValueError(f'{type(self).__name__}: no BatchNorm layer with running statistics '
                             f'under {roots}')
        return layers

    def _networks(self, model: nn.Module, names: List[str]) -> List[nn.Module]:
        """The networks whose ``mode='tensor'`` forward reaches the chosen BN layers."""
        subs = [n for n in ('student', 'teacher') if isinstance(getattr(model, n, None), nn.Module)]
        if not subs:
            return [model]
        nets = [getattr(model, s) for s in subs if any(n.startswith(s + '.') for n in names)]
        if any(not any(n.startswith(s + '.') for s in subs) for n in names):
            nets.append(model)
        return nets

    def _inputs(self, model, batch):
        data = model.data_preprocessor(batch, False)
        if isinstance(data, dict) and self.branch is not None and self.branch in data:
            data = data[self.branch]  # {'target': {'inputs', 'data_samples'}}
        if isinstance(data, dict) and isinstance(data.get('inputs'), dict):
            # DomainDataPreProcessor: {'inputs': {'target': ...}, 'data_samples': {'target': ...}}
            if self.branch not in data['inputs']:
                raise ValueError(f'{type(self).__name__}: the batch has no `{self.branch}` '
                                 f'branch, only {sorted(data["inputs"])}')
            samples = data.get('data_samples')
            data = dict(inputs=data['inputs'][self.branch],
                        data_samples=samples.get(self.branch) if isinstance(samples, dict)
                        else None)
        if not (isinstance(data, dict) and 'inputs' in data):
            raise ValueError(f'{type(self).__name__}: expected a preprocessed batch with '
                             f'`inputs` (or a `{self.branch}` branch holding one), got '
                             f'{list(data) if isinstance(data, dict) else type(data).__name__}')
        return data['inputs'], data.get('data_samples')

    @torch.no_grad()
    def warmup(self, model: nn.Module, dataloader, logger=None,
               modules: Optional[Sequence[str]] = None, num_iters: Optional[int] = None):
        """Run the warm-up on ``model`` with ``dataloader``; usable without a runner.

        ``modules`` and ``num_iters`` replace the hook's own for this call (the re-estimation
        before a validation).

        Returns:
            tuple[int, int]: Number of batches run and of BN layers re-estimated.
        """
        if is_model_wrapper(model):
            model = model.module
        layers = self.select_bn_layers(model, modules)
        dataset = getattr(dataloader, 'dataset', None)
        if dataset is not None and len(dataset) == 0:
            raise ValueError(f'{type(self).__name__}: the warm-up data ({type(dataset).__name__}, '
                             f'data_root={getattr(dataset, "data_root", None)!r}) has no images')
        loader = _independent_loader(dataloader)

        num_iters = num_iters or self.num_iters or len(loader)

        modes = {m: m.training for m in model.modules()}
        # to put back the statistics of layers the forward never reaches
        saved = {name: [b.clone() for b in bn.buffers()] for name, bn in layers.items()}
        momenta = {name: bn.momentum for name, bn in layers.items()}
        batch_counter = [0]
        moments = {name: _RunningMoments(batch_counter, self.momentum) for name in layers}
        handles = [bn.register_forward_pre_hook(moments[name]) for name, bn in layers.items()]
        rng = _get_rng_states()
        try:
            model.eval()
            for bn in layers.values():
                bn.train()
                if self.reset:
                    bn.reset_running_stats()
            nets = self._networks(model, list(layers))
            bar = ProgressBar(num_iters) if is_main_process() else None
            it, done = iter(loader), 0
            while done < num_iters:
                try:
                    batch = next(it)
                except StopIteration:  # a finite sampler: start another pass
                    it = iter(loader)
                    batch = next(it)
                inputs, data_samples = self._inputs(model, batch)
                for net in nets:
                    net(inputs, data_samples, mode='tensor')
                done += 1
                batch_counter[0] = done
                if bar is not None:
                    bar.update()
            del it
            if bar is not None:
                bar.file.write('\n')
        finally:
            for h in handles:
                h.remove()
            for m, training in modes.items():
                m.training = training
            for name, bn in layers.items():
                bn.momentum = momenta[name]
            _set_rng_states(rng)

        unreached = []
        for name, bn in layers.items():
            acc = moments[name]
            if get_world_size() > 1:
                if self.momentum is None:
                    acc.reduce_across_ranks(bn.num_features, bn.running_mean.device)
                else:  # each rank saw its own shard: average, or DDP keeps rank 0's
                    all_reduce(bn.running_mean, op='mean')
                    all_reduce(bn.running_var, op='mean')
                    n = torch.tensor([float(acc.n)], device=bn.running_mean.device)
                    all_reduce(n, op='sum')
                    acc.n = int(n.item())
            if acc.n == 0:
                unreached.append(name)
                for b, old in zip(bn.buffers(), saved[name]):
                    b.copy_(old)
            elif self.momentum is None:
                bn.running_mean.copy_(acc.mean.to(bn.running_mean.dtype))
                bn.running_var.copy_((acc.m2 / max(acc.n - 1, 1)).to(bn.running_var.dtype))
                bn.num_batches_tracked.fill_(acc.calls)
        if logger is not None:
            how = ('exact pooled statistics' if self.momentum is None else
                   f'momentum {self.momentum}' + (' after reset' if self.reset else ''))
            logger.info(f'BN statistics warm-up: {done} batches, {len(layers) - len(unreached)} '
                        f'BatchNorm layers re-estimated ({how})')
            if unreached:
                logger.warning(f'BN statistics warm-up: {len(unreached)} chosen BatchNorm layers '
                               f'got no input in the forward pass and were not updated: '
                               f'{unreached[:5]}{" ..." if len(unreached) > 5 else ""}')
        return done, len(layers) - len(unreached)


def _independent_loader(loader):
    """A loader over the same data whose iteration leaves ``loader``'s own iterators alone.

    Two cases share state with the training iterator: mmengine's ``InfiniteSampler`` holds *one*
    index generator (``self.indices``) for all its iterators, so a second iterator would consume
    the training indices and, when dropped, close the generator (training then stops with
    ``StopIteration``); and a loader with persistent workers resets its single iterator. Such a
    loader is rebuilt on the same dataset and collate function with a ``DefaultSampler`` (one
    pass, shuffled with the sampler's seed, sharded across ranks) and no persistent workers.
    """
    if not isinstance(loader, DataLoader):
        return loader
    infinite = isinstance(loader.sampler, InfiniteSampler)
    if not infinite and not (loader.persistent_workers and loader.num_workers > 0):
        return loader
    sampler = loader.sampler
    if infinite:
        sampler = DefaultSampler(loader.dataset, shuffle=sampler.shuffle, seed=sampler.seed)
    batch_size = loader.batch_size or getattr(loader.batch_sampler, 'batch_size', 1)
    return DataLoader(loader.dataset, batch_size=batch_size, sampler=sampler,
                      # a last batch of one image breaks BN on 1x1 maps (image-pool branches)
                      drop_last=len(sampler) >= 2 * batch_size,
                      num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                      pin_memory=loader.pin_memory, timeout=loader.timeout,
                      worker_init_fn=loader.worker_init_fn,
                      prefetch_factor=loader.prefetch_factor if loader.num_workers else None,
                      persistent_workers=False)


def _get_rng_states():
    states = dict(random=random.getstate(), numpy=np.random.get_state(),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states):
    random.setstate(states['random'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states:
        torch.cuda.set_rng_state_all(states['cuda'])


def _validated_at(runner) -> bool:
    """Whether the train loop validates right after iteration ``runner.iter`` (its checkpoint is
    written just before that validation)."""
    loop = runner.train_loop
    interval = getattr(loop, 'val_interval', None)
    if runner.val_loop is None or not interval:
        return False
    it = runner.iter
    return it >= getattr(loop, 'val_begin', 1) and (it % interval == 0 or it == loop.max_iters)
