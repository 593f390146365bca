"""Source-free purity at build time: an SFDA run builds no source dataset.

A source-free (SFDA) method adapts a source *model* to the target domain without the source data.
:mod:`mmsfda.compat` calls :func:`check_source_free` whenever an mmengine ``Runner`` is built, so
a config whose model says ``setting='sfda'`` fails before anything is loaded if any dataset it
would build is a source dataset: the train/val/test dataloaders, the loop's
``train_cfg.label_dataloader`` and the ``dataloader`` of every default or custom hook (a
``BNStatsWarmupHook`` without one uses the train dataloader, which is checked).

The rule (:func:`source_reason`): a dataset config is a *source* dataset when

1. it says so: ``metainfo=dict(domain='source')`` (``'target'`` declares a target dataset and
   ends the search); or
2. its class says so: a ``DOMAIN = 'source'`` class attribute, or a subclass of the synthetic
   source benchmarks :data:`SOURCE_DATASET_TYPES` (GTA5, SYNTHIA); or
3. its ``data_root`` is a folder named ``source`` (the toy benchmark's layout,
   ``tools/make_toy_data.py``: ``<root>/source`` and ``<root>/target``); or
4. it is a :class:`~mmsfda.datasets.DomainPairDataset` with a ``source`` (its source is then
   reported by the rules above as well).

Wrappers (``ConcatDataset``, ``RepeatDataset``, ...) are searched at any depth: every dict with a
registered dataset ``type`` inside a dataloader config is classified. Datasets given as built
objects are classified by the same rules (their class, ``metainfo`` and ``data_root``).

The model's ``setting`` is read from the model config, or from the constructor's default when the
config leaves it out (the first ``__init__`` along the class's MRO with a ``setting`` argument:
``BaseAdaptationSegmentor`` defaults to ``'sfda'``), or from a built
model's ``setting`` attribute. A plain segmentor (no ``setting``) is checked when the config says
``setting = 'sfda'`` at its top level (AdaBN: an mmseg ``EncoderDecoder`` adapted by a hook), and
not otherwise.
"""
import inspect
import os.path as osp
from typing import Any, Iterator, List, Optional, Tuple

#: Dataset classes that are always a source domain (synthetic benchmarks), by registered name.
SOURCE_DATASET_TYPES = ('GTA5Dataset', 'SynthiaDataset')
#: The folder name that marks a source data root (toy benchmark layout).
SOURCE_ROOT_NAME = 'source'


class SourceDataError(ValueError):
    """A source-free run would build a source dataset."""


def _registered(registry, type_) -> Optional[type]:
    if isinstance(type_, type):
        return type_
    if not isinstance(type_, str):
        return None
    try:
        return registry.get(type_)
    except Exception:  # an unknown scope prefix: not ours to judge
        return None


def _dataset_class(type_) -> Optional[type]:
    from mmseg.registry import DATASETS
    return _registered(DATASETS, type_)


def _is_source_class(cls: Optional[type]) -> Optional[str]:
    if cls is None:
        return None
    if getattr(cls, 'DOMAIN', None) == 'source':
        return f'{cls.__name__}.DOMAIN is "source"'
    for base in inspect.getmro(cls):
        if base.__name__ in SOURCE_DATASET_TYPES:
            return f'{cls.__name__} is a source-domain dataset ({base.__name__})'
    return None


def _root_reason(root) -> Optional[str]:
    if isinstance(root, str) and osp.basename(osp.normpath(root)) == SOURCE_ROOT_NAME:
        return f'its data_root {root!r} is a "{SOURCE_ROOT_NAME}" folder'
    return None


def source_reason(dataset) -> Optional[str]:
    """Why ``dataset`` (a config dict or a built dataset) is a source dataset; ``None`` if not.

    Only the dataset itself is judged, not the datasets it wraps (see :func:`find_source_data`).
    """
    if isinstance(dataset, dict):
        metainfo, cls, root = dataset.get('metainfo'), _dataset_class(dataset.get('type')), \
            dataset.get('data_root')
        has_source = dataset.get('source') is not None
    else:
        metainfo, cls, root = getattr(dataset, 'metainfo', None), type(dataset), \
            getattr(dataset, 'data_root', None)
        has_source = getattr(dataset, 'source', None) is not None
    domain = metainfo.get('domain') if isinstance(metainfo, dict) else None
    if domain == 'source':
        return "metainfo domain='source'"
    if domain == 'target':
        return None
    reason = _is_source_class(cls) or _root_reason(root)
    if reason:
        return reason
    if has_source and cls is not None and cls.__name__ == 'DomainPairDataset':
        return 'DomainPairDataset with a source dataset'
    return None


def _walk(node, where: str) -> Iterator[Tuple[str, Any]]:
    """Every dataset (config dict with a registered dataset type, or built Dataset) in ``node``."""
    from torch.utils.data import DataLoader, Dataset
    if isinstance(node, DataLoader):
        yield from _walk(node.dataset, where + '.dataset')
    elif isinstance(node, Dataset):
        yield where, node
        for attr in ('source', 'target', 'dataset'):
            child = getattr(node, attr, None)
            if isinstance(child, Dataset):
                yield from _walk(child, f'{where}.{attr}')
        for i, child in enumerate(getattr(node, 'datasets', None) or []):
            yield from _walk(child, f'{where}.datasets[{i}]')
    elif isinstance(node, dict):
        if _dataset_class(node.get('type')) is not None:
            yield where, node
        for k, v in node.items():
            if k not in ('pipeline', 'metainfo'):
                yield from _walk(v, f'{where}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f'{where}[{i}]')


def find_source_data(dataloaders) -> List[Tuple[str, str]]:
    """``(where, why)`` of every source dataset in ``dataloaders`` (``{name: loader config or
    DataLoader}``), e.g. ``('train_dataloader.dataset.source', "its data_root ... 'source'")``."""
    found = []
    for name, loader in dataloaders.items():
        for where, dataset in _walk(loader, name):
            reason = source_reason(dataset)
            if reason:
                found.append((where, reason))
    return found


def model_setting(model) -> Optional[str]:
    """``'uda'`` / ``'sfda'`` of a model config or built model; ``None`` for a plain segmentor."""
    if not isinstance(model, dict):
        return getattr(model, 'setting', None)
    if 'setting' in model:
        return model['setting']
    from mmseg.registry import MODELS
    cls = _registered(MODELS, model.get('type'))
    if cls is None:
        return None
    for klass in inspect.getmro(cls):  # a subclass may pass `setting` on in **kwargs
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            param = inspect.signature(init).parameters.get('setting')
        except (TypeError, ValueError):
            return None
        if param is not None:
            return None if param.default is inspect.Parameter.empty else param.default
    return None


def hook_dataloaders(hooks, prefix: str) -> dict:
    """``{'<prefix>[i].dataloader': loader}`` of the hooks (configs or objects) that have one."""
    out = {}
    items = hooks.items() if isinstance(hooks, dict) else enumerate(hooks or [])
    for key, hook in items:
        name = f'{prefix}.{key}' if isinstance(hooks, dict) else f'{prefix}[{key}]'
        loader = hook.get('dataloader') if isinstance(hook, dict) else \
            getattr(hook, 'dataloader', None)
        if loader is not None:
            out[f'{name}.dataloader'] = loader
    return out


def check_source_free(model, train_dataloader=None, val_dataloader=None, test_dataloader=None,
                      train_cfg=None, default_hooks=None, custom_hooks=None,
                      config_setting: Optional[str] = None) -> None:
    """Raise :class:`SourceDataError` if an SFDA model (``setting='sfda'``) would get source data.

    Args:
        model (dict | nn.Module): The model config or model.
        train_dataloader, val_dataloader, test_dataloader (dict | DataLoader, optional): As given
            to mmengine's ``Runner``.
        train_cfg (dict, optional): The train loop config (its ``label_dataloader`` is checked).
        default_hooks (dict, optional), custom_hooks (list, optional): Hooks (configs or objects);
            the ``dataloader`` of each is checked.
        config_setting (str, optional): The config's top-level ``setting``: the setting of a model
            that has none of its own (a plain segmentor); a model's own setting wins.

    Raises:
        SourceDataError: listing every source dataset (where it is in the config and why it
            counts as source).
    """
    setting = model_setting(model)
    if (config_setting if setting is None else setting) != 'sfda':
        return
    loaders = dict(train_dataloader=train_dataloader, val_dataloader=val_dataloader,
                   test_dataloader=test_dataloader)
    if isinstance(train_cfg, dict):
        loaders['train_cfg.label_dataloader'] = train_cfg.get('label_dataloader')
    loaders.update(hook_dataloaders(default_hooks, 'default_hooks'))
    loaders.update(hook_dataloaders(custom_hooks, 'custom_hooks'))
    found = find_source_data({k: v for k, v in loaders.items() if v is not None})
    if found:
        lines = '\n'.join(f'  {where}: {why}' for where, why in found)
        raise SourceDataError(
            'source-free config (setting="sfda") uses source data:\n' + lines +
            '\nA source-free run may read target data only: remove these datasets (or point them '
            'at target data), or use setting="uda". Rules: mmsfda/engine/source_free.py.')
