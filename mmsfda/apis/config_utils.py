"""Config helpers of the tools: move every data root of a config, and key a run by its content.

mmengine substitutes base variables (``{{_base_.toy_label_dataloader}}``, ``data_root + '/source'``)
when it parses a config, so a ``--cfg-options data_root=...`` override cannot reach the dataset
configs built from them. :func:`redirect_data_root` walks the parsed config instead and moves every
``data_root`` it finds (train/val/test dataloaders, ``DomainPairDataset`` source and target, a loop's
``label_dataloader``, hooks' dataloaders, top-level variables, at any depth).

:func:`config_key` is the content key of a run: a hash of the resolved config text, of the content of
its ``load_from`` checkpoint and of the ``meta.json`` of every data root that has one (the toy
benchmark writes it), so a cached result is reused only if what produced it is the same.
"""
import copy
import hashlib
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import Config, DictAction

DEFAULT_DATA_ROOT = 'data/toy'
# Keys that say where a run writes or how it starts, not what it computes: left out of the key
# (``load_from`` enters through its file's content).
_UNKEYED = ('work_dir', 'resume', 'load_from')


def _norm(path: str) -> str:
    return osp.normpath(str(path))


def _moved(root: str, old: str, new: str) -> Optional[str]:
    """``root`` with the leading path ``old`` replaced by ``new``; ``None`` if it is not under it."""
    r = _norm(root)
    if r == old:
        return new
    if r.startswith(old + osp.sep):
        return osp.join(new, r[len(old) + 1:])
    return None


def _walk(node, visit) -> None:
    """Call ``visit(dict)`` on every dict (ConfigDict) inside ``node`` (dicts, lists, tuples)."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, visit)


def data_roots(cfg: Union[Config, dict]) -> List[str]:
    """Every ``data_root`` value in ``cfg`` (any depth), in the order found, without repeats."""
    found = []

    def visit(d):
        root = d.get('data_root')
        if isinstance(root, str) and root not in found:
            found.append(root)

    _walk(cfg._cfg_dict if isinstance(cfg, Config) else cfg, visit)
    return found


def redirect_data_root(cfg: Union[Config, dict], new_root: str,
                       old_root: Optional[str] = None) -> int:
    """Move every data root under ``old_root`` to the same place under ``new_root``, in place.

    ``data/toy/target`` becomes ``<new_root>/target`` for ``old_root='data/toy'``. Every dict of the
    config at any depth is visited, so the roots of the train/val/test dataloaders, of
    ``DomainPairDataset``'s ``source``/``target``, of ``train_cfg.label_dataloader``, of every hook's
    ``dataloader`` and of top-level variables (``data_root = 'data/toy'``) all move together.

    Args:
        cfg (Config | dict): A parsed config (changed in place).
        new_root (str): The data root to move to (e.g. ``data/toy_night-2``).
        old_root (str, optional): The root the config uses; default ``'data/toy'`` (the toy
            benchmark's root in every toy config).

    Returns:
        int: How many ``data_root`` entries moved (0 if ``new_root == old_root``).

    Raises:
        ValueError: If ``new_root != old_root`` and no data root of the config lies under
            ``old_root`` (the message lists the roots the config has), since silently training on
            the old data would be wrong.
    """
    old = _norm(DEFAULT_DATA_ROOT if old_root is None else old_root)
    new = _norm(new_root)
    if new == old:
        return 0
    moved = [0]

    def visit(d):
        root = d.get('data_root')
        if isinstance(root, str):
            target = _moved(root, old, new)
            if target is not None:
                d['data_root'] = target
                moved[0] += 1

    _walk(cfg._cfg_dict if isinstance(cfg, Config) else cfg, visit)
    if not moved[0]:
        name = getattr(cfg, 'filename', None) or 'the config'
        raise ValueError(f'{name}: no data_root under {old!r} to move to {new!r}; its data roots '
                         f'are {data_roots(cfg)} (pass old_root=... to move another root)')
    return moved[0]


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}``, as mmseg's ``--cfg-options`` parses them."""
    if not options:
        return {}
    for o in options:
        if '=' not in o:
            raise ValueError(f'config option {o!r} is not key=value')
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def load_config(config: str, cfg_options: Sequence[str] = (),
                data_root: Optional[str] = None, old_root: Optional[str] = None) -> Config:
    """Parse ``config``, merge ``cfg_options`` (as ``tools/train.py`` would) and move its data roots.

    Options are merged first, so a root an option sets under ``old_root`` moves too.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
    cfg = Config.fromfile(config)
    opts = parse_cfg_options(cfg_options)
    if opts:
        cfg.merge_from_dict(opts)
    if data_root is not None:
        redirect_data_root(cfg, data_root, old_root)
    return cfg


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj) -> str:
    """Hash of a JSON-able object (keys sorted, so dict order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _data_meta(root: str) -> Optional[str]:
    """The ``meta.json`` describing data root ``root`` (in it or in its parent), if any."""
    for folder in (root, osp.dirname(_norm(root))):
        path = osp.join(folder, 'meta.json')
        if osp.isfile(path):
            return path
    return None


def config_key_parts(cfg: Config) -> Dict[str, object]:
    """What a run's content key hashes (see :func:`config_key`); also what its manifest records.

    Returns:
        dict: ``config_sha256`` (resolved text, ``work_dir``/``resume``/``load_from`` left out),
        ``load_from`` and ``load_from_sha256`` (``None`` without one), ``data`` ({data root:
        sha256 of its ``meta.json``, or ``None`` for data without one}).
    """
    bare = copy.deepcopy(cfg)
    for k in _UNKEYED:
        bare.pop(k, None)
    load_from = cfg.get('load_from')
    if load_from and not osp.isfile(load_from):
        raise FileNotFoundError(f'load_from checkpoint not found: {load_from}')
    data = {}
    for root in data_roots(cfg):
        meta = _data_meta(root)
        data[root] = sha256_file(meta) if meta else None
    return dict(config_sha256=hashlib.sha256(bare.pretty_text.encode('utf-8')).hexdigest(),
                load_from=load_from or None,
                load_from_sha256=sha256_file(load_from) if load_from else None,
                data=data)


def config_key(cfg: Config) -> str:
    """Content key of a run: one sha256 over :func:`config_key_parts`, minus the checkpoint's path
    (its content counts, not where it lies)."""
    parts = dict(config_key_parts(cfg))
    parts.pop('load_from')
    return sha256_json(parts)


def changed_parts(old: dict, new: dict) -> List[str]:
    """Names of the entries that differ between two :func:`config_key_parts` records."""
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def shorten_schedule(cfg: Config, iters: int, image_size: Optional[Sequence[int]] = None) -> None:
    """Make ``cfg`` a tiny run, in place: for tests and smoke runs of the tools, never for results.

    Training lasts ``iters`` iterations (``SelfTrainingLoop``: two rounds of ``iters``; a config
    that trains for 0 iterations, such as AdaBN, keeps 0), validates and saves a checkpoint at
    the end; every dataloader anywhere in the config (train/val/test, a loop's
    ``label_dataloader``, hooks' dataloaders) loads in the main process with batches of at most 2;
    with ``image_size`` (H, W), every data preprocessor pads to that size instead of the crop.
    """
    if iters < 1:
        raise ValueError(f'iters must be positive, got {iters}')
    train_cfg = cfg.get('train_cfg')
    if train_cfg is not None:
        if train_cfg.get('type') == 'SelfTrainingLoop':
            train_cfg.rounds = [iters, iters]
            train_cfg.pop('max_iters', None)
            train_cfg.val_interval = 2 * iters
        elif train_cfg.get('max_iters'):
            train_cfg.max_iters = iters
            train_cfg.val_interval = iters
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint is not None and train_cfg is not None and train_cfg.get('val_interval'):
        checkpoint.interval = train_cfg.val_interval

    def visit(d):
        for key, value in d.items():
            if key.endswith('dataloader') and isinstance(value, dict):
                value.update(num_workers=0, persistent_workers=False,
                             batch_size=min(int(value.get('batch_size', 2)), 2))
        if image_size is not None and str(d.get('type', '')).endswith('DataPreProcessor'):
            for key in ('size', 'source_size', 'target_size'):
                if d.get(key) is not None:
                    d[key] = tuple(image_size)

    _walk(cfg._cfg_dict, visit)
