"""model-index.yml and the metafiles (mmseg 1.x schema) agree with the configs and the READMEs.

Generic over method folders: a new ``configs/<method>/`` needs a ``metafile.yaml`` listing each of
its configs (a collection's README, if named, must exist) and a line in ``model-index.yml``; numbers in a README table row that names a
config must be the metafile's ``Results`` of that config, and the other way round.
"""
import glob
import os.path as osp
import re

import pytest
import yaml

from conftest import REPO

FOLDERS = sorted(d for d in glob.glob(osp.join(REPO, 'configs', '*'))
                 if osp.isdir(d) and osp.basename(d) != '_base_'
                 and glob.glob(osp.join(d, '*.py')))
MODEL_KEYS = {'Name', 'In Collection', 'Config', 'Metadata', 'Results', 'Weights', 'Training log',
              'Alias', 'Paper', 'Code', 'README', 'Converted From'}
COLLECTION_KEYS = {'Name', 'License', 'Metadata', 'Paper', 'README', 'Code', 'Converted From'}
METRIC_COLUMNS = {'mIoU': 'mIoU', 'ECE': 'ECE', 'mIoU16': 'mIoU16', 'mIoU13': 'mIoU13'}


def configs_of(folder):
    """The configs a metafile must list: every ``*.py`` except the multi-stage pipelines."""
    return sorted(osp.basename(p) for p in glob.glob(osp.join(folder, '*.py'))
                  if not osp.basename(p).startswith('stages'))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def all_models():
    models = []
    for folder in FOLDERS:
        path = osp.join(folder, 'metafile.yaml')
        if osp.isfile(path):
            models += [(path, m) for m in load(path).get('Models', [])]
    return models


def test_model_index_imports_every_metafile():
    index = load(osp.join(REPO, 'model-index.yml'))
    listed = index['Import']
    want = sorted(osp.relpath(osp.join(f, 'metafile.yaml'), REPO) for f in FOLDERS)
    missing = sorted(set(want) - set(listed))
    assert not missing, f'add to model-index.yml: {missing}'
    for path in listed:
        assert osp.isfile(osp.join(REPO, path)), f'model-index.yml imports {path}, which does not exist'


@pytest.mark.parametrize('folder', FOLDERS, ids=osp.basename)
def test_metafile_schema_and_configs(folder):
    path = osp.join(folder, 'metafile.yaml')
    assert osp.isfile(path), f'{osp.relpath(folder, REPO)} has configs but no metafile.yaml'
    meta = load(path)
    assert set(meta) <= {'Collections', 'Models'}, f'{path}: top-level keys {sorted(meta)}'
    collections = {c['Name']: c for c in meta.get('Collections', [])}
    for c in collections.values():
        assert set(c) <= COLLECTION_KEYS, f'{path}: collection {c["Name"]}: {sorted(set(c) - COLLECTION_KEYS)}'
        if 'README' in c:
            assert osp.isfile(osp.join(REPO, c['README'])), f'{path}: README {c["README"]} missing'
        if 'Paper' in c:
            assert {'Title', 'URL'} <= set(c['Paper']), f'{path}: Paper needs Title and URL'
    names = []
    for m in meta.get('Models', []):
        where = f'{path}: model {m.get("Name")}'
        assert set(m) <= MODEL_KEYS, f'{where}: unknown keys {sorted(set(m) - MODEL_KEYS)}'
        names.append(m['Name'])
        assert m['In Collection'] in collections, f'{where}: no collection {m["In Collection"]}'
        assert osp.isfile(osp.join(REPO, m['Config'])), f'{where}: config {m["Config"]} missing'
        assert osp.dirname(osp.join(REPO, m['Config'])) == folder, f'{where}: config of another folder'
        assert m['Name'] == osp.splitext(osp.basename(m['Config']))[0], \
            f'{where}: the name is the config file name without .py'
        for r in m.get('Results', []):
            assert {'Task', 'Dataset', 'Metrics'} <= set(r), f'{where}: Results need Task, Dataset, Metrics'
            for k, v in r['Metrics'].items():
                assert isinstance(v, (int, float)) and not isinstance(v, bool), \
                    f'{where}: metric {k} = {v!r} is not a number'
        for key in ('Weights', 'Training log'):
            if key in m:
                v = m[key]
                assert v.startswith(('http://', 'https://')) or osp.isfile(osp.join(REPO, v)), \
                    f'{where}: {key} {v} is neither a URL nor a file'
    assert len(names) == len(set(names)), f'{path}: duplicate model names'
    listed = sorted(osp.basename(m['Config']) for m in meta.get('Models', []))
    unlisted = sorted(set(configs_of(folder)) - set(listed))
    assert not unlisted, f'{path} does not list {unlisted}'


def test_model_names_are_unique_across_folders():
    names = [m['Name'] for _, m in all_models()]
    assert len(names) == len(set(names))


_NUMBER = re.compile(r'^\**(-?\d+(?:\.\d+)?)')


def readme_rows(readme):
    """(config name, {metric: value}) for each row of a README table that names exactly one
    config file and has numbers under metric columns (``mIoU``, ``ECE``, ``mIoU16``, ``mIoU13``)."""
    rows, header = [], None
    with open(readme) as f:
        lines = f.read().splitlines()
    for line in lines:
        if not line.startswith('|'):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if header is None:
            header = cells
            continue
        if all(set(c) <= set('-: ') for c in cells):
            continue
        names = set(re.findall(r'([\w.\-]+)\.py', line))
        if len(names) != 1:
            continue
        values = {}
        for col, cell in zip(header, cells):
            metric = METRIC_COLUMNS.get(col.replace('*', '').strip())
            match = _NUMBER.match(cell)
            if metric and match:
                values[metric] = float(match.group(1))
        if values:
            rows.append((osp.basename(names.pop()), values))
    return rows


@pytest.mark.parametrize('folder', FOLDERS, ids=osp.basename)
def test_readme_tables_and_metafile_agree(folder):
    path = osp.join(folder, 'metafile.yaml')
    readme = osp.join(folder, 'README.md')
    if not (osp.isfile(path) and osp.isfile(readme)):
        pytest.skip('checked by test_metafile_schema_and_configs')
    results = {}
    for m in load(path).get('Models', []):
        metrics = {}
        for r in m.get('Results', []):
            metrics.update(r['Metrics'])
        if metrics:
            results[m['Name']] = metrics
    seen = set()
    for name, values in readme_rows(readme):
        assert name in results, f'{readme}: a row gives {values} for {name}, its metafile has no Results'
        for k, v in values.items():
            assert k in results[name] and abs(results[name][k] - v) < 1e-6, \
                f'{name}: README {k} = {v}, metafile {results[name].get(k)}'
        seen.add(name)
    missing = sorted(set(results) - seen)
    assert not missing, f'{readme}: no table row with the metafile Results of {missing}'


def test_readme_rows_reads_metric_columns_of_rows_naming_a_config(tmp_path):
    readme = tmp_path / 'README.md'
    readme.write_text('| config | mIoU | ECE | memory |\n| --- | --- | --- | --- |\n'
                      '| [cfg](tent_r18_toy.py) | **41.25** ± 0.3 | 12.0 | 3 |\n'
                      '| the source model | 30.0 | 20.0 | 3 |\n'
                      '| `a.py` vs `b.py` | 1.0 | 2.0 | 3 |\n\ntext\n\n| config | what |\n| --- | --- |\n'
                      '| `c.py` | 5.0 |\n')
    assert readme_rows(str(readme)) == [('tent_r18_toy', {'mIoU': 41.25, 'ECE': 12.0})]
