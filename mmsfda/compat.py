"""Fixes for the pinned stack, applied once on ``import mmsfda``.

1. ``torch >= 2.6`` loads with ``weights_only=True`` by default; mmengine 0.10.7 calls ``torch.load``
   without the flag, so resuming from one of its own checkpoints fails with an ``UnpicklingError`` on
   ``mmengine.logging.HistoryBuffer`` (and, once that is allowed, on numpy's array reconstruction).
   ``torch.serialization.add_safe_globals`` cannot cover the open-ended set of objects a message hub
   holds, so the loader of *local* files (the ``''`` scheme of mmengine's ``CheckpointLoader``) is
   replaced by one that passes ``weights_only=False``. Local checkpoints are the user's own files;
   remote schemes (http, s3, ...) keep torch's safe default.
2. mmengine's ``load_state_dict`` only *warns* when a checkpoint tensor has another shape than the
   model's (e.g. a 19-class checkpoint loaded into a 16-class config) and trains on with randomly
   initialised layers. For mmsfda's models and configs that is never intended, so there a shape
   mismatch raises a ``ValueError`` that names the checkpoint, the keys and both shapes. It applies
   (:func:`shape_check_wanted`) to models whose class is mmsfda's (the adaptation segmentors; a
   class can say otherwise with ``strict_checkpoint_shapes = False``) and to runs of configs that set
   ``strict_checkpoint_shapes = True`` (mmsfda's ``default_runtime.py`` does). Ordinary mmseg models
   and configs keep mmengine's warning, e.g. fine-tuning a checkpoint with another ``num_classes``.
   ``MMSFDA_ALLOW_SHAPE_MISMATCH=1`` keeps mmengine's warning everywhere.
   Before that, submodules with a ``check_checkpoint(entries, filename)`` method vet their own
   entries (Cal-SFDA's value net: trained for another backbone or class count, or missing where
   its estimates are used).
3. Multi-process training without a GPU (CI, laptops, ``tools/dist_train.sh`` with the gloo
   backend): mmengine 0.10.7 calls ``torch.cuda.set_device`` when it initialises the process group
   and wraps the model with ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU model. Without
   CUDA, the process group is initialised without a device (``nccl`` becomes ``gloo``) and CPU
   models are wrapped without ``device_ids``. Nothing changes when CUDA is available.
4. Exact resume. Every ``Runner`` gets :class:`~mmsfda.engine.hooks.RandomStateHook` as a default
   hook named ``random_state`` (it seeds the global generators per iteration; disable it with
   ``default_hooks=dict(random_state=None)``). A dataloader that mmengine's ``Runner``
   builds from a config draws its random numbers (sampler set-up, in-process augmentation with
   ``num_workers=0``, worker base seeds) from its own python/numpy/torch generators, seeded from
   the dataloader's seed and the rank, not from the global ones. Data randomness is then a
   function of how many batches were drawn, so the skip-ahead of a resumed loop replays it
   exactly, and the model's randomness (re-seeded per iteration by the hook) does not depend on
   the data pipeline's, nor on validation or labelling passes.
5. Checkpoints are written atomically (a temporary file in the same folder, then ``os.replace``);
   ``CheckpointHook`` removes outdated checkpoints only after the new one is complete and rewrites
   ``last_checkpoint`` atomically, so a run killed while saving resumes from the previous checkpoint.
6. ``--resume`` is "the same command plus ``--resume``": when ``resume=True`` and the work dir has a
   checkpoint (``last_checkpoint``), the run resumes from it even if ``load_from`` is set (the source
   model of an adaptation run; mmengine would resume from ``load_from`` and fail on the optimizer's
   parameter groups). ``load_from`` only initialises a fresh run: with ``resume=True`` and nothing to
   resume in the work dir it is loaded as weights. A ``load_from`` inside the work dir with
   ``resume=True`` is resumed from, as in mmengine (an explicit choice of one of the run's own
   checkpoints).
7. Source-free purity: building a ``Runner`` whose model says ``setting='sfda'`` fails if any of its
   dataloaders (train/val/test, ``train_cfg.label_dataloader``, hooks') holds a source dataset
   (:func:`mmsfda.engine.source_free.check_source_free`).
8. mmengine 0.10.7's ``Runner.wrap_model`` looks ``model_wrapper_cfg.type`` up in mmengine's root
   registry only (``MODEL_WRAPPERS.get``, which does not search the default scope's registry), so a
   DDP wrapper registered in mmseg's registry, as mmsfda's are, is not found (``issubclass() arg 1
   must be a class``). A type found only in the default scope is given its scope prefix.
9. Neither mmengine's ``Runner`` nor mmseg's ``tools/train.py`` destroys the process group. A gloo
   process that exits with its group alive may abort at interpreter shutdown (SIGABRT, "terminate
   called without an active exception": gloo's worker threads outlive the interpreter), which
   fails a finished ``tools/dist_train.sh`` run at random. Initialising the group through mmengine
   (``init_dist``) registers an exit handler that destroys it while the interpreter is alive. That
   alone did not end it: a finished ``tools/dist_test.sh`` run still aborted once in CI with the
   group destroyed (the abort comes from C++ objects torn down after the interpreter), so the
   repository's ``tools/train.py`` / ``tools/test.py`` end a finished multi-process run with
   :func:`exit_finished_distributed_run`: exit handlers run, streams are flushed, and the process
   leaves through ``os._exit`` without the teardown.
10. mmengine initialises the model (``init_cfg``, e.g. ImageNet weights of the backbone) before it
   loads ``load_from`` or resumes, so an adaptation run started from a source checkpoint would need
   the ImageNet file only to overwrite it. A ``Pretrained`` initialisation of a submodule whose
   every tensor is in the checkpoint the run starts from (``load_from``, or the checkpoint it
   resumes from) is skipped, with a log line; other submodules are initialised as configured.
11. ``Config.pretty_text`` formats the whole config with yapf, and one ``Runner`` asks for it about
   five times for the same config (the logged config, the dumped one, the visualizer's copy, the
   runtime-info hook...), 0.4-0.9 s each on a 2-core CPU. yapf's ``FormatCode`` is a pure
   function of the text and the style, so its results for the last few texts are memoised; the
   text is the same. The toy-config tests (``test_toy_configs``, ``test_uda_baseline_configs``,
   ``test_distributed``: 70 tests, most a Runner of two iterations) took 717 s without it and
   470 s with it, on the same idle machine.
"""
import atexit
import contextlib
import functools
import glob
import inspect
import os
import os.path as osp
import random
import re
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine import runner as _runner_pkg
from mmengine.config import config as _config_mod
from mmengine.dist import get_rank, is_main_process
from mmengine.dist import utils as _dist_utils
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.model.weight_init import PretrainedInit
from mmengine.model.wrappers import distributed as _ddp
from mmengine.runner import Runner
from mmengine.runner import checkpoint as _ckpt
from mmengine.runner import runner as _runner_mod
from torch.utils.data import DataLoader

__all__ = ['load_local_checkpoint', 'check_state_dict_shapes', 'check_submodule_checkpoints',
           'shape_check_wanted', 'checkpoint_shape_check',
           'derive_seed', 'seed_everything', 'RNGStreams', 'RNGIsolatedDataLoader',
           'save_checkpoint_atomic', 'latest_checkpoint']

# The file the last local checkpoint came from, so a shape error can name it.
_last_loaded = {'filename': None}


def load_local_checkpoint(filename, map_location=None):
    """Load a checkpoint from a local path with ``weights_only=False``.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (str | torch.device | None): As in :func:`torch.load`.

    Returns:
        dict: The checkpoint (state dict, meta, message hub, optimizer ...).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    _last_loaded['filename'] = filename
    return torch.load(filename, map_location=map_location, weights_only=False)


def _as_loaded(module, state_dict):
    """The unwrapped model and the checkpoint keys as it will load them (e.g. a plain segmentor
    checkpoint mapped onto a teacher-student model by its ``map_checkpoint_keys``)."""
    if is_model_wrapper(module):
        module = module.module
    if hasattr(module, 'map_checkpoint_keys'):
        state_dict = module.map_checkpoint_keys(dict(state_dict))
    return module, state_dict


def check_state_dict_shapes(module, state_dict):
    """Raise if a tensor of ``state_dict`` has another shape than the model's.

    Args:
        module (nn.Module): The model (a wrapper is unwrapped).
        state_dict (Mapping[str, Tensor]): Weights about to be loaded.

    Raises:
        ValueError: naming the checkpoint file, every mismatching key and both shapes, with a hint
            when the mismatch is in a classifier (``num_classes`` differs).
    """
    module, state_dict = _as_loaded(module, state_dict)
    own = module.state_dict()
    bad = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state_dict.items()
           if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape)]
    if not bad:
        return
    lines = [f'  {k}: checkpoint {c}, model {m}' for k, c, m in bad]
    hint = ''
    # A classifier differs in its output dimension only.
    cls_keys = [(k, c, m) for k, c, m in bad
                if ('head' in k or 'classifier' in k) and c[1:] == m[1:] and c[0] != m[0]]
    if cls_keys:
        k, c, m = cls_keys[0]
        hint = (f'\nThe classifier {k} has {c[0]} outputs in the checkpoint and {m[0]} in the '
                f'model: the config\'s num_classes ({m[0]}) disagrees with the checkpoint\'s '
                f'({c[0]}).')
    raise ValueError(
        f'checkpoint {_last_loaded["filename"] or "<in memory>"} does not fit the model: '
        f'{len(bad)} tensor(s) differ in shape\n' + '\n'.join(lines) + hint +
        '\nSet MMSFDA_ALLOW_SHAPE_MISMATCH=1 to load anyway (mismatching tensors are skipped).')


_mmengine_load_state_dict = _ckpt.load_state_dict


def check_submodule_checkpoints(module, state_dict):
    """Let submodules with a ``check_checkpoint(entries, filename)`` method vet their entries.

    E.g. Cal-SFDA's value net refuses weights trained for another backbone or class count, and a
    checkpoint without value-net weights where the estimates are used. ``entries`` holds the
    checkpoint tensors under the submodule's name, keys relative to it.
    """
    module, state_dict = _as_loaded(module, state_dict)
    for name, sub in module.named_modules():
        check = getattr(sub, 'check_checkpoint', None)
        if not name or not callable(check):
            continue
        prefix = name + '.'
        check({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)},
              _last_loaded['filename'])


# Set while a Runner whose config says ``strict_checkpoint_shapes`` loads a checkpoint.
_shape_check_cfg = {'value': None}


@contextlib.contextmanager
def checkpoint_shape_check(enabled):
    """Within the block, shape mismatches raise (``True``), warn (``False``) or follow the model
    (``None``, see :func:`shape_check_wanted`)."""
    outer = _shape_check_cfg['value']
    _shape_check_cfg['value'] = enabled
    try:
        yield
    finally:
        _shape_check_cfg['value'] = outer


def shape_check_wanted(module) -> bool:
    """Whether loading into ``module`` raises on a shape mismatch (item 2 of the module docstring).

    ``MMSFDA_ALLOW_SHAPE_MISMATCH=1`` says no; else a surrounding :func:`checkpoint_shape_check`
    (a Runner of a config with ``strict_checkpoint_shapes``) decides; else the model's
    ``strict_checkpoint_shapes`` attribute; else whether the model's class is mmsfda's.
    """
    if os.environ.get('MMSFDA_ALLOW_SHAPE_MISMATCH', '0') == '1':
        return False
    if _shape_check_cfg['value'] is not None:
        return bool(_shape_check_cfg['value'])
    if is_model_wrapper(module):
        module = module.module
    flag = getattr(module, 'strict_checkpoint_shapes', None)
    if flag is not None:
        return bool(flag)
    return type(module).__module__.split('.')[0] == 'mmsfda'


def _load_state_dict(module, state_dict, strict=False, logger=None):
    model, mapped = _as_loaded(module, state_dict)  # once for both checks
    check_submodule_checkpoints(model, mapped)
    if shape_check_wanted(model):
        check_state_dict_shapes(model, mapped)
    return _mmengine_load_state_dict(module, state_dict, strict=strict, logger=logger)


_mmengine_init_dist_pytorch = _dist_utils._init_dist_pytorch


def destroy_process_group_at_exit() -> None:
    """Destroy the default process group if one is alive (registered by ``init_dist``)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def exit_finished_distributed_run(code: int = 0) -> None:
    """End a process whose multi-process run has finished: destroy the process group, run the
    exit handlers (logging's, mmengine's, ...), flush the standard streams, then ``os._exit``.

    Skips the C++ static teardown at interpreter exit, where gloo's threads can abort a run whose
    work is done (compat item 9). Only for the end of a successful run: an exception should
    propagate normally instead.
    """
    destroy_process_group_at_exit()
    atexit.unregister(destroy_process_group_at_exit)
    atexit._run_exitfuncs()  # noqa: SLF001 (CPython's exit handlers, run as at a normal exit)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
    atexit.unregister(destroy_process_group_at_exit)  # once, however often a group is made
    atexit.register(destroy_process_group_at_exit)
    if torch.cuda.is_available() or init_backend != 'torch':
        return _mmengine_init_dist_pytorch(backend, init_backend=init_backend, **kwargs)
    torch_dist.init_process_group(backend='gloo' if backend == 'nccl' else backend, **kwargs)


_mmengine_ddp_init = _ddp.MMDistributedDataParallel.__init__


def _ddp_init(self, module, detect_anomalous_params=False, **kwargs):
    if all(p.device.type == 'cpu' for p in module.parameters()):
        kwargs['device_ids'] = None  # DDP takes no device ids for a CPU module
    _mmengine_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)


# --------------------------------------------------------------------------- 4. random streams
#: Purposes mixed into derived seeds, so that the streams of one seed are independent.
DATA_STREAM = 0x0DA7A


def derive_seed(*entropy: int) -> int:
    """A 32-bit seed from integers (e.g. ``(runner.seed, iteration, purpose)``), through numpy's
    ``SeedSequence``: nearby inputs give unrelated seeds."""
    return int(np.random.SeedSequence([int(e) % 2**64 for e in entropy]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily if CUDA is not initialised)


def _global_states():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_global_states(states) -> None:
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


class RNGStreams:
    """Private python / numpy / torch-CPU generator states, swapped in with ``with streams:``.

    Code inside the ``with`` block uses the global generators (``random``, ``np.random``,
    ``torch.rand`` ...) as usual but draws from these streams; the global states are restored on
    exit and the streams remember where they stopped. CUDA generators are not swapped (data
    pipelines run on the CPU).

    Args:
        seed (int): Seed of the three streams.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._states = (random.Random(self.seed).getstate(),
                        np.random.RandomState(self.seed).get_state(),
                        torch.Generator().manual_seed(self.seed).get_state())
        self._outer = []

    def __enter__(self):
        self._outer.append(_global_states())
        _set_global_states(self._states)
        return self

    def __exit__(self, *exc):
        self._states = _global_states()
        _set_global_states(self._outer.pop())
        return False


class _RNGIsolatedIterator:
    """A dataloader iterator whose every ``next()`` runs inside the loader's :class:`RNGStreams`."""

    def __init__(self, iterator, streams: RNGStreams):
        self._iterator = iterator
        self._streams = streams

    def __iter__(self):
        return self

    def __next__(self):
        with self._streams:
            return next(self._iterator)

    def __len__(self):
        return len(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


class RNGIsolatedDataLoader(DataLoader):
    """A ``DataLoader`` that creates its iterators and loads its batches with its own random
    streams (``self.rng_streams``, an :class:`RNGStreams`), leaving the global generators as they
    were. Made by :func:`_build_dataloader` from the loaders mmengine builds."""

    def __iter__(self):
        with self.rng_streams:
            iterator = super().__iter__()
        return _RNGIsolatedIterator(iterator, self.rng_streams)


_mmengine_build_dataloader = Runner.build_dataloader


def _build_dataloader(dataloader, seed=None, diff_rank_seed=False):
    from_config = isinstance(dataloader, dict)
    loader = _mmengine_build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
    if from_config and type(loader) is DataLoader:
        # Without a seed, one is drawn from the (seeded) global generator, once, here.
        base = seed if seed is not None else int(np.random.randint(2**31))
        loader.rng_streams = RNGStreams(derive_seed(base, get_rank(), DATA_STREAM))
        loader.__class__ = RNGIsolatedDataLoader
    return loader


_mmengine_register_default_hooks = Runner.register_default_hooks


def _register_default_hooks(self, hooks=None):
    from .engine.hooks.random_state_hook import RandomStateHook
    hooks = dict(hooks or {})
    if 'random_state' in hooks and hooks['random_state'] is None:
        hooks.pop('random_state')  # switched off by the config
    else:
        hooks.setdefault('random_state', dict(type=RandomStateHook))
    return _mmengine_register_default_hooks(self, hooks)


# --------------------------------------------------------------------------- 5. atomic checkpoints
_mmengine_save_checkpoint = _ckpt.save_checkpoint


def _is_local(filename) -> bool:
    return isinstance(filename, str) and '://' not in filename


def save_checkpoint_atomic(checkpoint, filename, file_client_args=None, backend_args=None):
    """mmengine's ``save_checkpoint``; a local file is written to a temporary file in the same
    folder and moved into place with ``os.replace``, so ``filename`` is the old file or the
    complete new one, never a part. Other backends are left to mmengine."""
    if not _is_local(filename) or file_client_args is not None or backend_args is not None:
        return _mmengine_save_checkpoint(checkpoint, filename, file_client_args=file_client_args,
                                         backend_args=backend_args)
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='-' + osp.basename(filename))
    os.close(fd)
    try:
        with open(tmp, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is a normal file
        os.replace(tmp, filename)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _write_text_atomic(path: str, text: str) -> None:
    from .utils.atomic import atomic_write
    atomic_write(path, text)


_mmengine_save_checkpoint_with_step = CheckpointHook._save_checkpoint_with_step


def _save_checkpoint_with_step(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step`` of mmengine 0.10.7, reordered: the new
    checkpoint is written first, then ``last_checkpoint`` (atomically), then outdated checkpoints
    are removed (mmengine removes them first: with ``max_keep_ckpts=1`` a kill during the save
    left no checkpoint at all)."""
    outdated = []
    if self.max_keep_ckpts > 0:
        # _save_checkpoint and _save_best_checkpoint may both call this in one epoch
        if not (len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
        backend_args=self.backend_args, **self.args)
    if not is_main_process():
        return
    _write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
    for old in outdated:
        path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(path)


# --------------------------------------------------------------------------- 6. resume
_NUMBERED = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')  # not best_*_iter_<n>.pth


def latest_checkpoint(work_dir: str):
    """The checkpoint a resumed run in ``work_dir`` continues from, or ``None``.

    ``<work_dir>/last_checkpoint`` names it. If that file is missing or names a file that no
    longer exists (a work dir moved elsewhere: the name is tried inside ``work_dir``), the newest
    ``iter_<n>.pth`` / ``epoch_<n>.pth`` of the work dir is used.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    if named is not None:
        for candidate in (named, osp.join(work_dir, osp.basename(named))):
            if osp.isfile(candidate):
                return candidate
    numbered = [(int(m.group(1)), p) for p in glob.glob(osp.join(work_dir, '*.pth'))
                for m in [_NUMBERED.search(osp.basename(p))] if m]
    if numbered:
        return max(numbered)[1]
    if named is not None:
        raise FileNotFoundError(f'{pointer} names {named}, which does not exist, and {work_dir} '
                                'holds no iter_<n>.pth / epoch_<n>.pth to resume from')
    return None


def _inside(path: str, folder: str) -> bool:
    return osp.realpath(osp.dirname(osp.abspath(path))) == osp.realpath(folder)


_mmengine_load_or_resume = Runner.load_or_resume


def _load_or_resume(self) -> None:
    if self._has_loaded or not self._resume:
        return _mmengine_load_or_resume(self)
    if self._load_from is not None and _is_local(self._load_from) and \
            _inside(self._load_from, self.work_dir):
        return _mmengine_load_or_resume(self)  # one of this run's own checkpoints
    latest = latest_checkpoint(self.work_dir)
    if latest is not None:
        if self._load_from is not None:
            self.logger.info(f'Resuming from {latest}, the last checkpoint of the work dir; '
                             f'load_from={self._load_from} only initialises a fresh run.')
        else:
            self.logger.info(f'Auto resumed from the latest checkpoint {latest}.')
        self.resume(latest)
    elif self._load_from is not None:
        self.logger.info(f'Nothing to resume in {self.work_dir}: a fresh run initialised from '
                         f'load_from={self._load_from}.')
        self.load_checkpoint(self._load_from)
    else:
        self.logger.info(f'Nothing to resume in {self.work_dir}: a fresh run.')
    self._has_loaded = True


# --------------------------------------------------------------------------- 7. source-free purity
_mmengine_runner_init = Runner.__init__
_RUNNER_SIGNATURE = inspect.signature(_mmengine_runner_init)


def _runner_init(self, *args, **kwargs):
    from .engine.source_free import check_source_free
    bound = _RUNNER_SIGNATURE.bind(self, *args, **kwargs).arguments
    check_source_free(bound.get('model'), train_dataloader=bound.get('train_dataloader'),
                      val_dataloader=bound.get('val_dataloader'),
                      test_dataloader=bound.get('test_dataloader'),
                      train_cfg=bound.get('train_cfg'), default_hooks=bound.get('default_hooks'),
                      custom_hooks=bound.get('custom_hooks'),
                      config_setting=(bound.get('cfg') or {}).get('setting'))
    _mmengine_runner_init(self, *args, **kwargs)


# --------------------------------------------------------------------------- 8. DDP wrapper lookup
_mmengine_wrap_model = Runner.wrap_model


def _wrap_model(self, model_wrapper_cfg, model):
    type_ = (model_wrapper_cfg or {}).get('type')
    if isinstance(type_, str) and '.' not in type_:
        from mmengine.registry import MODEL_WRAPPERS
        scope = self.default_scope.scope_name if self.default_scope is not None else None
        if MODEL_WRAPPERS.get(type_) is None and scope and \
                MODEL_WRAPPERS.get(f'{scope}.{type_}') is not None:
            model_wrapper_cfg = dict(model_wrapper_cfg, type=f'{scope}.{type_}')
    return _mmengine_wrap_model(self, model_wrapper_cfg, model)


_mmengine_runner_load_checkpoint = Runner.load_checkpoint
_mmengine_runner_resume = Runner.resume


def _runner_load_checkpoint(self, *args, **kwargs):
    with checkpoint_shape_check(self.cfg.get('strict_checkpoint_shapes')):
        return _mmengine_runner_load_checkpoint(self, *args, **kwargs)


def _runner_resume(self, *args, **kwargs):
    with checkpoint_shape_check(self.cfg.get('strict_checkpoint_shapes')):
        return _mmengine_runner_resume(self, *args, **kwargs)


# --------------------------------------------------------------------------- 10. covered init
# While a Runner initialises its model: the unwrapped model and the keys of the checkpoint the run
# starts from (as the model will load them).
_covered = {'model': None, 'keys': None, 'source': None}


def _start_checkpoint(runner):
    """The local checkpoint a run will load after initialising its model, or ``None``."""
    load_from = runner._load_from
    if runner._resume and not (load_from and _is_local(load_from) and
                               _inside(load_from, runner.work_dir)):
        latest = latest_checkpoint(runner.work_dir)
        if latest is not None:
            return latest
    if load_from and _is_local(load_from) and osp.isfile(load_from):
        return load_from
    return None


_mmengine_pretrained_call = PretrainedInit.__call__


def _pretrained_call(self, module):
    model, keys = _covered['model'], _covered['keys']
    if model is not None:
        name = next((n for n, m in model.named_modules() if m is module), None)
        own = [f'{name}.{k}' if name else k for k in module.state_dict()] if name is not None else []
        if own and all(k in keys for k in own):
            print_log(f'{self.checkpoint} not loaded into {name or "the model"}: every tensor of it '
                      f'comes from {_covered["source"]}', logger='current')
            return
    return _mmengine_pretrained_call(self, module)


_mmengine_init_model_weights = Runner._init_model_weights


def _init_model_weights(self):
    start = _start_checkpoint(self)
    if start is None:
        return _mmengine_init_model_weights(self)
    ckpt = load_local_checkpoint(start, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
    model, mapped = _as_loaded(self.model, state_dict)
    _covered.update(model=model, keys=set(mapped), source=start)
    try:
        return _mmengine_init_model_weights(self)
    finally:
        _covered.update(model=None, keys=None, source=None)


_yapf_format_code = _config_mod.FormatCode


@functools.lru_cache(maxsize=8)
def _format_code_memo(text: str, style: tuple) -> tuple:
    return _yapf_format_code(text, style_config=dict(style))


def _format_code(text, style_config=None, **kwargs):
    """yapf's ``FormatCode`` as mmengine's ``Config.pretty_text`` calls it, memoised (item 11)."""
    if kwargs or not isinstance(style_config, dict):
        return _yapf_format_code(text, style_config=style_config, **kwargs)
    return _format_code_memo(text, tuple(sorted(style_config.items())))


def _apply():
    if getattr(_ckpt, '_mmsfda_patched', False):
        return
    _ckpt.CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
    _ckpt.load_state_dict = _load_state_dict
    _dist_utils._init_dist_pytorch = _init_dist_pytorch
    _ddp.MMDistributedDataParallel.__init__ = _ddp_init
    Runner.build_dataloader = staticmethod(_build_dataloader)
    Runner.register_default_hooks = _register_default_hooks
    for module in (_ckpt, _runner_mod, _runner_pkg):
        module.save_checkpoint = save_checkpoint_atomic
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    Runner.load_or_resume = _load_or_resume
    Runner.__init__ = _runner_init
    Runner.wrap_model = _wrap_model
    Runner.load_checkpoint = _runner_load_checkpoint
    Runner.resume = _runner_resume
    Runner._init_model_weights = _init_model_weights
    PretrainedInit.__call__ = _pretrained_call
    _config_mod.FormatCode = _format_code
    _ckpt._mmsfda_patched = True


_apply()
