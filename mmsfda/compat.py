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
   initialised layers. That is almost never intended, so a shape mismatch raises a ``ValueError`` that
   names the checkpoint, the keys and both shapes. Set ``MMSFDA_ALLOW_SHAPE_MISMATCH=1`` to keep
   mmengine's warning (e.g. to fine-tune a checkpoint on a different label set on purpose).
   Before that, submodules with a ``check_checkpoint(entries, filename)`` method vet their own
   entries (Cal-SFDA's value net: trained for another backbone or class count, or missing where
   its estimates are used).
3. Multi-process training without a GPU (CI, laptops, ``tools/dist_train.sh`` with the gloo
   backend): mmengine 0.10.7 calls ``torch.cuda.set_device`` when it initialises the process group
   and wraps the model with ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU model. Without
   CUDA, the process group is initialised without a device (``nccl`` becomes ``gloo``) and CPU
   models are wrapped without ``device_ids``. Nothing changes when CUDA is available.
"""
import os
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as _dist_utils
from mmengine.model import is_model_wrapper
from mmengine.model.wrappers import distributed as _ddp
from mmengine.runner import checkpoint as _ckpt

__all__ = ['load_local_checkpoint', 'check_state_dict_shapes', 'check_submodule_checkpoints']

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


def _load_state_dict(module, state_dict, strict=False, logger=None):
    model, mapped = _as_loaded(module, state_dict)  # once for both checks
    check_submodule_checkpoints(model, mapped)
    if os.environ.get('MMSFDA_ALLOW_SHAPE_MISMATCH', '0') != '1':
        check_state_dict_shapes(model, mapped)
    return _mmengine_load_state_dict(module, state_dict, strict=strict, logger=logger)


_mmengine_init_dist_pytorch = _dist_utils._init_dist_pytorch


def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
    if torch.cuda.is_available() or init_backend != 'torch':
        return _mmengine_init_dist_pytorch(backend, init_backend=init_backend, **kwargs)
    torch_dist.init_process_group(backend='gloo' if backend == 'nccl' else backend, **kwargs)


_mmengine_ddp_init = _ddp.MMDistributedDataParallel.__init__


def _ddp_init(self, module, detect_anomalous_params=False, **kwargs):
    if all(p.device.type == 'cpu' for p in module.parameters()):
        kwargs['device_ids'] = None  # DDP takes no device ids for a CPU module
    _mmengine_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)


def _apply():
    if getattr(_ckpt, '_mmsfda_patched', False):
        return
    _ckpt.CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
    _ckpt.load_state_dict = _load_state_dict
    _dist_utils._init_dist_pytorch = _init_dist_pytorch
    _ddp.MMDistributedDataParallel.__init__ = _ddp_init
    _ckpt._mmsfda_patched = True


_apply()
