"""Every dataset a config names takes every key the config gives it.

A wrapper dataset (``DomainPairDataset``, ``EasyHardPairDataset``) written over a base's single
dataset without ``_delete_=True`` inherits that dataset's ``data_root`` / ``data_prefix`` /
``pipeline`` and fails when the run builds its dataloader, after the config parsed and the model
built; on real data that needs the datasets on disk, so nothing else catches it in CI.
"""
import glob
import inspect
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

import mmsfda  # noqa: F401
from conftest import REPO

CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
                 if not osp.basename(p).startswith('stages'))


def accepted_keys(cls):
    """The keyword names ``cls(...)`` accepts (following ``**kwargs`` up the MRO), or None if
    it accepts any."""
    names = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(vars(klass)['__init__']).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def datasets_in(node, where='cfg'):
    """(path, dict) of every dict below ``node`` whose ``type`` is a registered dataset."""
    if isinstance(node, dict):
        if isinstance(node.get('type'), str) and DATASETS.get(node['type']) is not None:
            yield where, node
        for key, value in node.items():
            yield from datasets_in(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from datasets_in(value, f'{where}[{i}]')


def test_a_stray_key_is_found():
    bad = dict(train_dataloader=dict(dataset=dict(type='DomainPairDataset', data_root='x',
                                                  source=None, target=None)))
    (where, ds), = datasets_in(bad)
    assert where == 'cfg.train_dataloader.dataset'
    assert 'data_root' not in accepted_keys(DATASETS.get(ds['type']))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_datasets_take_their_keys(path):
    cfg = Config.fromfile(path).to_dict()
    for where, ds in datasets_in(cfg):
        accepted = accepted_keys(DATASETS.get(ds['type']))
        if accepted is None:
            continue
        stray = set(ds) - accepted - {'type'}
        assert not stray, (f'{osp.relpath(path, REPO)}: {where} ({ds["type"]}) does not take '
                           f'{sorted(stray)} (a wrapper over a base dataset without _delete_?)')
