"""tools/benchmark/zoo.py: train, publish, evaluate; the zoo's files load into plain configs and
mmseg's test tool reproduces the zoo metafile's numbers."""
import glob
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.registry import MODELS

from conftest import REPO
from mmsfda.utils.repo_tools import load_repo_tool
from test_configs.test_metafiles import COLLECTION_KEYS, MODEL_KEYS

zoo = load_repo_tool('benchmark/zoo')


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_every_toy_config_is_in_the_zoo_or_says_why():
    trained = {e.config for e in zoo.ENTRIES}
    left_out = zoo.not_in_zoo()
    toy = {osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', '*', '*toy*.py'))
           if not osp.basename(p).startswith('stages')}
    assert toy == trained | set(left_out) and not trained & set(left_out)
    assert not [c for c, why in left_out.items() if why.startswith('no zoo entry')], left_out
    for config, why in left_out.items():  # multi-stage folders name their toy stages file
        if 'multi-stage' in why:
            stages = re.search(r'(configs/\S+\.py)', why).group(1)
            assert osp.isfile(osp.join(REPO, stages)) and 'toy' in stages, why
    # --only adds the source model an entry starts from, once, before it
    names = [e.name for e in zoo.select(['tent', 'daformer', 'mic'])]
    assert names == ['source-only', 'source-only (MiT)', 'TENT (SFDA)', 'DAFormer (UDA)',
                     'MIC-DAFormer (UDA)', 'MIC-HRDA (UDA)']
    with pytest.raises(ValueError, match='unknown'):
        zoo.select(['nosuchmethod'])


def test_zoo_quick_publishes_what_tools_test_reproduces(tmp_path):
    data, work, out = (str(tmp_path / d) for d in ('data', 'work', 'zoo'))
    proc = subprocess.run([sys.executable, 'tools/benchmark/zoo.py', '--data', data,
                           '--work-dir', work, '--zoo', out, '--quick', '1',
                           '--toy-size', '4', '2', '32', '64', '--only', 'tent', 'dacs'],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    index = load(osp.join(out, 'model-index.yml'))
    assert sorted(index['Import']) == ['dacs/metafile.yaml', 'source_only/metafile.yaml',
                                       'tent/metafile.yaml']
    models = {}
    for path in index['Import']:
        meta = load(osp.join(out, path))
        names = {c['Name'] for c in meta['Collections']}
        assert set(meta) == {'Collections', 'Models'}  # the repository metafiles' schema
        assert all(set(c) <= COLLECTION_KEYS for c in meta['Collections'])
        for m in meta['Models']:
            assert set(m) <= MODEL_KEYS and m['In Collection'] in names
            metrics = m['Results'][0]['Metrics']
            assert set(metrics) == {'mIoU', 'ECE'} and 0 <= metrics['mIoU'] <= 100
            for key in ('Config', 'Weights', 'Training log'):
                assert osp.isfile(osp.join(out, m[key])), (m['Name'], key)
            assert osp.isfile(osp.join(out, m['Metadata']['Test Config']))
            models[m['Name']] = m
    assert sorted(models) == sorted(zoo.stem_of(e.config) for e in zoo.select(['tent', 'dacs']))
    assert models['tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256'][
        'Metadata']['Source Model'] == 'deeplabv2_r18-tiny_1xb4-800_toy-source-128x256'
    # the repository's metafiles are not touched without --write-repo-metafiles
    assert not any('Results' in m for m in load(osp.join(REPO, 'configs/dacs/metafile.yaml'))
                   ['Models'])

    # Each published file is a plain checkpoint that loads, every key matching, into the
    # repository's plain (source-only) config of the same network.
    plain_cfg = Config.fromfile(osp.join(REPO, zoo.adaptation.SOURCES['r18-tiny'][2]))
    for m in models.values():
        weights = osp.join(out, m['Weights'])
        assert re.search(r'-[0-9a-f]{8}\.pth$', weights)
        ckpt = torch.load(weights, map_location='cpu', weights_only=False)
        assert set(ckpt) == {'meta', 'state_dict'}
        assert not any(k.startswith(('student.', 'teacher.')) for k in ckpt['state_dict'])
        load_checkpoint(MODELS.build(plain_cfg.model), weights, map_location='cpu', strict=True)

    # mmseg's test tool (the repository's wrapper) on the DACS entry gives the metafile's mIoU.
    dacs = models['dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256']
    test = subprocess.run([sys.executable, 'tools/test.py',
                           osp.join(out, dacs['Metadata']['Test Config']),
                           osp.join(out, dacs['Weights']), '--work-dir', str(tmp_path / 'test')],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert test.returncode == 0, test.stderr[-5000:]
    found = re.findall(r'mIoU: (\d+\.\d+)', test.stdout + test.stderr)
    assert found, (test.stdout + test.stderr)[-3000:]
    assert float(found[-1]) == pytest.approx(dacs['Results'][0]['Metrics']['mIoU'], abs=0.005)


def test_write_repo_results_replaces_only_the_zoo_models_results(tmp_path, monkeypatch):
    (tmp_path / 'configs' / 'tent').mkdir(parents=True)
    shutil.copy(osp.join(REPO, 'configs/tent/metafile.yaml'), tmp_path / 'configs/tent')
    monkeypatch.setattr(zoo, 'REPO', str(tmp_path))
    entry = next(e for e in zoo.ENTRIES if e.name == 'TENT (SFDA)')
    results = zoo.results_entry(dict(mIoU=41.5, ECE=7.25), 'data/toy')
    zoo.write_repo_results([(entry, dict(Results=results))], 'data/toy')
    after = load(tmp_path / 'configs/tent/metafile.yaml')
    before = load(osp.join(REPO, 'configs/tent/metafile.yaml'))
    assert after['Collections'] == before['Collections']
    for a, b in zip(after['Models'], before['Models'], strict=True):
        if a['Config'] == entry.config:
            assert a.pop('Results') == [dict(Task='Semantic Segmentation',
                                             Dataset='Toy target val (data/toy)',
                                             Metrics=dict(mIoU=41.5, ECE=7.25))]
        assert a == b
