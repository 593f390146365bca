"""tools/benchmark/zoo.py: train, publish, evaluate; the zoo's files load into plain configs and
mmseg's test tool reproduces the zoo metafile's numbers; a multi-stage method (UPLR) goes through
tools/run_stages.py, shortened, and publishes its last stage's model."""
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
UPLR = 'uplr-s2-st_deeplabv2_r18-tiny_1xb4-2x200_toy-target-128x256'
DACS = 'dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256'


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_every_toy_config_is_in_the_zoo_or_says_why():
    trained = {c for e in zoo.ENTRIES for c in zoo.trained_configs(e)}
    left_out = zoo.not_in_zoo()
    toy = {osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', '*', '*toy*.py'))
           if not osp.basename(p).startswith('stages')}
    assert toy == trained | set(left_out) and not trained & set(left_out)
    assert not [c for c, why in left_out.items() if why.startswith('no zoo entry')], left_out
    # every multi-stage folder is in the zoo through its toy stages file
    folders = {osp.dirname(osp.relpath(p, REPO))
               for p in glob.glob(osp.join(REPO, 'configs', '*', 'stages_toy.py'))}
    assert folders == {osp.dirname(e.config) for e in zoo.ENTRIES if zoo.is_stages(e.config)}
    assert zoo.model_config(next(e for e in zoo.ENTRIES if e.name == 'UPLR (UDA)')) == \
        f'configs/uplr/{UPLR}.py'
    for config, why in left_out.items():  # a multi-stage folder's other toy configs say why
        if 'multi-stage' in why:
            named = re.findall(r'(configs/\S+\.py)', why)
            assert named[0] == osp.join(osp.dirname(config), 'stages_toy.py'), why
            assert config not in dict(zoo.stage_configs(named[0])).values(), why
            if len(named) > 1:  # "a stage of <another stages file>"
                assert config in dict(zoo.stage_configs(named[1])).values(), why
    # --only adds the source model an entry starts from, once, before it
    names = [e.name for e in zoo.select(['tent', 'daformer', 'mic'])]
    assert names == ['source-only', 'source-only (MiT)', 'TENT (SFDA)', 'DAFormer (UDA)',
                     'MIC-DAFormer (UDA)', 'MIC-HRDA (UDA)']
    with pytest.raises(ValueError, match='unknown'):
        zoo.select(['nosuchmethod'])


def test_train_entry_starts_an_adapting_stages_entry_from_the_source(monkeypatch):
    # ATP's stages file leaves its first stage's load_from to the caller: the zoo gives the source
    # model there, and its schedule edit to every stage.
    atp = next(e for e in zoo.ENTRIES if e.config == 'configs/atp/stages_toy.py')
    calls = []

    def fake_run_stages(stages_file, work_dir, seed, data_root, cfg_options, edit=None):
        calls.append((stages_file, work_dir, seed, data_root, cfg_options, edit))
        return dict(stages={name: dict(checkpoint=f'{work_dir}/{name}/iter_1.pth',
                                       work_dir=f'{work_dir}/{name}')
                            for name, _ in zoo.stage_configs(stages_file)})

    monkeypatch.setattr(zoo.stages_tool, 'run_stages', fake_run_stages)
    ckpt, train_work, summary = zoo.train_entry(atp, 'w', 3, 'd', print, start='src.pth')
    assert calls == [('configs/atp/stages_toy.py', 'w', 3, 'd', ['align:load_from=src.pth'],
                      print)]
    assert (ckpt, train_work) == ('w/propagate/iter_1.pth', 'w/propagate')
    assert list(summary['stages']) == ['align', 'teach', 'propagate']


@pytest.fixture(scope='module')
def quick_zoo(tmp_path_factory):
    """One quick zoo (1 iteration per run, 32x64 images): DACS, its source model, UPLR's stages."""
    root = tmp_path_factory.mktemp('zoo')
    data, work, out = (str(root / d) for d in ('data', 'work', 'zoo'))
    proc = subprocess.run([sys.executable, 'tools/benchmark/zoo.py', '--data', data,
                           '--work-dir', work, '--zoo', out, '--quick', '1',
                           '--toy-size', '4', '2', '32', '64', '--only', 'dacs', 'uplr'],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return dict(root=root, data=data, work=work, out=out)


def test_zoo_quick_publishes_what_tools_test_reproduces(quick_zoo, tmp_path):
    out = quick_zoo['out']
    index = load(osp.join(out, 'model-index.yml'))
    assert sorted(index['Import']) == ['dacs/metafile.yaml', 'source_only/metafile.yaml',
                                       'uplr/metafile.yaml']
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
    assert sorted(models) == sorted(zoo.stem_of(zoo.model_config(e))
                                    for e in zoo.select(['dacs', 'uplr']))
    assert models[DACS]['Metadata']['Source Model'] == \
        'deeplabv2_r18-tiny_1xb4-800_toy-source-128x256'
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
    dacs = models[DACS]
    test = subprocess.run([sys.executable, 'tools/test.py',
                           osp.join(out, dacs['Metadata']['Test Config']),
                           osp.join(out, dacs['Weights']), '--work-dir', str(tmp_path / 'test')],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert test.returncode == 0, test.stderr[-5000:]
    found = re.findall(r'mIoU: (\d+\.\d+)', test.stdout + test.stderr)
    assert found, (test.stdout + test.stderr)[-3000:]
    assert float(found[-1]) == pytest.approx(dacs['Results'][0]['Metrics']['mIoU'], abs=0.005)


def test_zoo_multi_stage_entry_publishes_its_last_stage(quick_zoo, tmp_path):
    from mmsfda.apis import evaluate_checkpoint
    out = quick_zoo['out']
    meta = load(osp.join(out, 'uplr', 'metafile.yaml'))
    assert [m['Name'] for m in meta['Models']] == [UPLR]  # the last stage's model only
    m = meta['Models'][0]
    assert m['In Collection'] == 'UPLR' and m['Metadata']['Setting'] == 'UDA'
    assert m['Metadata']['Stage Iterations'] == dict(source=1, aa=1, st=2)  # --quick 1: shortened
    # Its Config is the stages file as trained: each stage's resolved config beside it, handed on
    # as configs/uplr/stages_toy.py says.
    assert m['Config'] == f'uplr/{UPLR}/stages_toy.py'
    spec = zoo.stages_tool.load_stages(osp.join(out, m['Config']))
    assert spec['data_root'] == quick_zoo['data']
    assert [(s['name'], s['load_from']) for s in spec['stages']] == [
        ('source', None), ('aa', 'source'), ('st', 'aa')]
    summary = load(osp.join(quick_zoo['work'], 'uplr-uda_seed0', 'summary.json'))
    for stage in spec['stages']:
        resolved = Config.fromfile(stage['config'])
        assert resolved.randomness.seed == 0
        assert resolved.get('load_from') == summary['stages'][stage['name']]['load_from']
    assert osp.basename(m['Training log']).startswith(f'{UPLR}_st_')
    for key in ('Weights', 'Training log'):
        assert osp.isfile(osp.join(out, m[key])), key
    # The published file is the st stage's last checkpoint, its student as a plain checkpoint.
    ckpt = torch.load(osp.join(out, m['Weights']), map_location='cpu', weights_only=False)
    assert ckpt['meta']['published_from'] == 'iter_2.pth'
    assert summary['stages']['st']['checkpoint'].endswith(osp.join('st', 'iter_2.pth'))
    # Re-evaluating the published file in its plain config gives the metafile's mIoU.
    metrics = evaluate_checkpoint(osp.join(out, m['Metadata']['Test Config']),
                                  osp.join(out, m['Weights']), str(tmp_path / 'eval'))
    assert float(metrics['mIoU']) == pytest.approx(m['Results'][0]['Metrics']['mIoU'], abs=0.005)
    readme = open(osp.join(out, 'README.md')).read()
    assert f'| {UPLR} | uda |' in readme


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
