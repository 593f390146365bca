"""The toy model zoo: train, publish, evaluate and describe every toy model.

For one seed, trains the toy config of every method folder of ``configs/`` (the runs, run names,
seeds and source models of ``tools/benchmark/adaptation.py``, so its runs and the demo's are
reused: same ``--work-dir``) and the toy stages file of every multi-stage method (below),
publishes each final checkpoint with ``tools/publish_model.py`` (the student alone, a plain mmseg
checkpoint with its hash in the file name), evaluates the published file on toy target val in the
plain config of its network, and writes the zoo::

    <zoo>/model-index.yml                       Import: every <method>/metafile.yaml below
    <zoo>/<method>/metafile.yaml                mmseg 1.x schema; Weights / Training log / Config
                                                relative to <zoo>; Results: target-val mIoU, ECE
    <zoo>/<method>/<stem>/<stem>-<sha8>.pth     the published checkpoint
    <zoo>/<method>/<stem>/<stem>.py             the resolved training config (what was trained)
    <zoo>/<method>/<stem>/<stem>_plain.py       the plain network's test config (target val)
    <zoo>/<method>/<stem>/<stem>_<time>.log     mmengine's training log (.json: its scalars)
    <zoo>/README.md                             the table and the command that checks each number

A multi-stage method (a folder with ``stages_*.py``: ATP, Cal-SFDA, DiGA, UPLR) has one entry, its
``stages_toy.py`` (ATP: the white-box one), trained by ``tools/run_stages.py``'s ``run_stages``
into ``<work-dir>/<run name>/<stage>`` (``--quick`` shortens every stage). ATP starts from the
source-only model (``--cfg-options align:load_from=<checkpoint>``, as its stages file says);
Cal-SFDA, DiGA and UPLR train their own source or warm-up stage, as their stages files do. Only the
checkpoint the last stage hands on (its ``select`` pick, else its last) is published, under the
last stage's config name; the earlier stages (Cal-SFDA's value net, DiGA's warm-up, ...) are not.
Its metafile entry gives the sum of the stages' iterations and each stage's (``Stage
Iterations``). Its folder holds, instead of ``<stem>.py``::

    <zoo>/<method>/<stem>/stages_toy.py         the stages that were trained (Config of the entry)
    <zoo>/<method>/<stem>/<stage>-<config>.py   each stage's resolved training config
    <zoo>/<method>/<stem>/<stem>_<stage>_<time>.log   each stage's training log

Every number of a zoo metafile is reproduced by mmseg's own test tool on the zoo's files::

    python tools/test.py <zoo>/<method>/<stem>/<stem>_plain.py \
        <zoo>/<method>/<stem>/<stem>-<sha8>.pth

The plain config is the network's source-only toy config (data, evaluator, runtime) with the
model replaced by the run's student (``model.student`` of an adaptation config, else its model:
HRDA's entries keep ``HRDAEncoderDecoder``) and the test set moved to target val.

Not in the zoo (``--list`` prints them with the reason): the toy configs of a multi-stage folder
that are not a stage of its zoo stages file (ablations, baselines, the black-box or translator
pipelines) and configs that are not trained (the FDA-MBT ensemble, built by
``tools/model_converters/make_ensemble.py``).

The repository's ``configs/*/metafile.yaml`` are left alone unless ``--write-repo-metafiles``:
then each zoo model's ``Results`` there is replaced by the zoo's numbers (Weights and logs stay in
the zoo: they are not in the repository); the README tables must then be updated to match
(``tests/test_configs/test_metafiles.py`` checks they agree).

    python tools/benchmark/zoo.py [--seed 0] [--work-dir work_dirs/demo] [--zoo work_dirs/zoo]
                                  [--data data/toy] [--only tent dacs uplr] [--quick ITERS]
                                  [--toy-size TRAIN VAL H W] [--list] [--write-repo-metafiles]
"""
import argparse
import functools
import glob
import json
import os
import os.path as osp
import shutil
import sys
from collections import namedtuple

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402

import mmsfda  # noqa: E402,F401
from mmsfda.apis import (add_toy_run_options, evaluate_checkpoint, load_config,  # noqa: E402
                         read_cached_result, read_manifest, run_name, sha256_json,
                         shorten_schedule, train_config)
from mmsfda.apis.config_utils import sha256_file  # noqa: E402
from mmsfda.utils import atomic_write  # noqa: E402
from mmsfda.utils.repo_tools import load_repo_tool  # noqa: E402

adaptation = load_repo_tool('benchmark/adaptation')
publish_model = load_repo_tool('publish_model')
stages_tool = load_repo_tool('run_stages')

#: A zoo model: row name (its run name, as the benchmarks'), setting, config (a stages file for a
#: multi-stage method), network (``adaptation.SOURCES`` key: the plain config's data, evaluator and
#: runtime come from its source-only config) and whether it starts from that network's source model.
Entry = namedtuple('Entry', 'name setting config network adapts')

ENTRIES = [Entry(name, setting, config, net, False)
           for net, (name, setting, config) in adaptation.SOURCES.items()]
ENTRIES += [Entry(b[0], b[1], b[2], adaptation.network(b), True) for b in adaptation.BASELINES]
# Single-stage toy configs that no benchmark table of adaptation.py trains. The ECE-loss source
# model has the demo's run name, so the demo's run is reused.
ENTRIES += [
    Entry('source-only + ECE loss', 'source',
          'configs/source_only/deeplabv2_r18-tiny_ece-loss_1xb4-800_toy-source-128x256.py',
          'r18-tiny', False),
    Entry('T2S-DA (UDA)', 'uda',
          'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
          'mit-tiny', True),
    Entry('T2S-DA HRDA (UDA)', 'uda',
          'configs/t2sda/t2sda-hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
          'mit-tiny', True),
    Entry('T2S-DG (DG)', 'dg',
          'configs/t2sda/t2sda-dg-daformer_mit-tiny_1xb4-300_toy-source-128x256.py',
          'mit-tiny', True),
]
# Multi-stage methods: their toy stages file, trained by tools/run_stages.py. ATP is source-free
# from the source-only model (its first stage's load_from); the others train their own source
# (Cal-SFDA: ECE loss; UPLR: the source-only config) or warm-up (DiGA) stage.
ENTRIES += [
    Entry('ATP (SFDA)', 'sfda', 'configs/atp/stages_toy.py', 'r18-tiny', True),
    Entry('Cal-SFDA (SFDA)', 'sfda', 'configs/calsfda/stages_toy.py', 'r18-tiny', False),
    Entry('DiGA (UDA)', 'uda', 'configs/diga/stages_toy.py', 'r18-tiny', False),
    Entry('UPLR (UDA)', 'uda', 'configs/uplr/stages_toy.py', 'r18-tiny', False),
]
#: Toy configs of single-stage folders that are not trained, with the reason.
NOT_TRAINED = {
    'configs/fda/fda-mbt-ensemble_deeplabv2_r18-tiny_toy-target-128x256.py':
        'an ensemble of three FDA models, built by tools/model_converters/make_ensemble.py, not '
        'trained (tools/benchmark/fda_mbt.py)',
    'configs/t2sda/t2sda-dg-style-augmentor-daformer_mit-tiny_1xb4-300_toy-source-128x256.py':
        'a smoke test of the learned style view: its StyleAugmentor has no weights (seeded random '
        'networks), so its numbers would not be the paper\'s view; the zoo trains the toy DG '
        'config with the photometric view',
}
TASK = 'Semantic Segmentation'


def method_of(config):
    """``configs/<method>/x.py`` -> ``<method>``."""
    return osp.basename(osp.dirname(config))


def stem_of(config):
    return osp.splitext(osp.basename(config))[0]


def is_stages(config):
    """Whether ``config`` is a stages file of ``tools/run_stages.py`` (``stages_*.py``)."""
    return osp.basename(config).startswith('stages')


@functools.lru_cache(maxsize=None)
def stage_configs(stages_file):
    """``[(stage name, config relative to the repository)]`` of a stages file, in order."""
    spec = stages_tool.load_stages(osp.join(REPO, stages_file))
    return [(s['name'], osp.relpath(s['config'], REPO)) for s in spec['stages']]


def model_config(entry):
    """The config of the model ``entry`` publishes: its config, or its last stage's."""
    return stage_configs(entry.config)[-1][1] if is_stages(entry.config) else entry.config


def trained_configs(entry):
    """The configs ``entry`` trains: its config, or every stage's."""
    if is_stages(entry.config):
        return [c for _, c in stage_configs(entry.config)]
    return [entry.config]


def not_in_zoo():
    """``{toy config: why it is not in the zoo}`` for every toy config no zoo entry trains."""
    zoo = {c for e in ENTRIES for c in trained_configs(e)}
    zoo_stages = {osp.dirname(e.config): e.config for e in ENTRIES if is_stages(e.config)}
    out = {}
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '*', '*toy*.py'))):
        config = osp.relpath(path, REPO)
        if config in zoo or is_stages(config):
            continue
        folder = osp.dirname(config)
        stages = sorted(osp.relpath(s, REPO) for s in glob.glob(osp.join(REPO, folder, 'stages*'))
                        if 'toy' in osp.basename(s) and s.endswith('.py'))
        if config in NOT_TRAINED:
            out[config] = NOT_TRAINED[config]
        elif stages and folder in zoo_stages:
            other = [s for s in stages if config in dict(stage_configs(s)).values()]
            out[config] = (f'multi-stage method: not a stage of {zoo_stages[folder]}, the stages '
                           'the zoo trains (' + (f'a stage of {other[0]}' if other else
                                                 'an ablation or baseline variant') + ')')
        else:
            out[config] = ('no zoo entry (add one to ENTRIES in tools/benchmark/zoo.py'
                           + (f': its stages file {stages[0]}' if stages else '') + ')')
    return out


def select(only):
    """Entries chosen by ``--only`` (row name, its first word or the method folder; any case),
    with the source models they start from first; all entries without ``only``."""
    if not only:
        return list(ENTRIES)
    wanted = {o.lower() for o in only}
    keys = {e: {e.name.lower(), e.name.split()[0].lower(), method_of(e.config)} for e in ENTRIES}
    unknown = sorted(wanted - set().union(*keys.values()))
    if unknown:
        raise ValueError(f'--only: unknown {unknown}; choose from '
                         f'{sorted(set().union(*keys.values()))}')
    chosen = [e for e in ENTRIES if keys[e] & wanted]
    sources = [e for e in ENTRIES if not e.adapts and e.name == adaptation.SOURCES[e.network][0]
               and any(c.adapts and c.network == e.network for c in chosen)]
    return [e for e in ENTRIES if e in sources or e in chosen]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--work-dir', default='work_dirs/demo',
                   help='where the runs train (shared with tools/demo.py and adaptation.py)')
    p.add_argument('--zoo', default='work_dirs/zoo', help='the zoo folder written')
    p.add_argument('--data', default='data/toy', help='toy data root (written when missing)')
    p.add_argument('--only', nargs='*', help='entries by name, its first word or method folder, '
                                             'e.g. tent dacs t2sda (their source models are '
                                             'added; default: all)')
    add_toy_run_options(p)
    p.add_argument('--list', action='store_true',
                   help='print the zoo entries and the toy configs not in it; train nothing')
    p.add_argument('--write-repo-metafiles', action='store_true',
                   help="also replace the Results of the zoo's models in configs/*/metafile.yaml")
    args = p.parse_args(argv)
    try:
        args.entries = select(args.only)
    except ValueError as e:
        p.error(str(e))
    return args


# ------------------------------------------------------------------------------ one zoo entry
def plain_test_config(entry, resolved_config, data_root, edit):
    """The plain network's test config of ``entry`` (a ``Config``): the source-only toy config of
    its network, model = the run's student (or model), test set = ``<data_root>/target`` val."""
    cfg = load_config(adaptation.SOURCES[entry.network][2], data_root=data_root)
    if edit is not None:
        edit(cfg)
    trained = Config.fromfile(resolved_config).model
    cfg.model = trained.get('student', trained)
    loader = cfg.test_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    loader.dataset.data_root = f'{data_root}/target'
    cfg.pop('load_from', None)
    return cfg


def copy_logs(train_work, dst, stem):
    """mmengine's text log and scalars of every part of the run -> ``dst``; the last log's path."""
    last = None
    for folder in sorted(glob.glob(osp.join(train_work, '2*'))):
        stamp = osp.basename(folder)
        log = osp.join(folder, f'{stamp}.log')
        if not osp.isfile(log):
            continue
        last = osp.join(dst, f'{stem}_{stamp}.log')
        shutil.copyfile(log, last)
        scalars = osp.join(folder, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):  # the JSON log mmseg's analyze_logs.py plots
            shutil.copyfile(scalars, osp.join(dst, f'{stem}_{stamp}.json'))
    if last is None:
        raise FileNotFoundError(f'{train_work}: no mmengine log (<timestamp>/<timestamp>.log)')
    return last


def write_zoo_stages(entry, summary, entry_dir, data_root):
    """``<entry_dir>/stages_toy.py``: the stages of ``entry.config`` with each stage's config
    replaced by its resolved config, copied beside it as ``<stage>-<config>.py``; the path."""
    stages = []
    for stage in stages_tool.load_stages(osp.join(REPO, entry.config))['stages']:
        ran = summary['stages'][stage['name']]
        copy = f"{stage['name']}-{osp.basename(stage['config'])}"
        shutil.copyfile(read_manifest(ran['work_dir'])['resolved_config'],
                        osp.join(entry_dir, copy))
        stages.append(dict(name=stage['name'], config=copy, select=ran['select'],
                           load_from=stage['load_from'], cfg_options=stage['cfg_options']))
    path = osp.join(entry_dir, osp.basename(entry.config))
    atomic_write(path, f'# {entry.config} as trained for the zoo (seed {summary["seed"]}): each '
                       "stage's resolved config is beside this file.\n"
                       f'data_root = {data_root!r}\nstages = [\n'
                       + ''.join(f'    {s!r},\n' for s in stages) + ']\n')
    return path


def publish_entry(entry, ckpt, train_work, entry_dir, data_root, edit, summary=None):
    """Publish ``ckpt`` into ``entry_dir`` with its configs and logs; returns the file paths.

    ``train_work`` is the run's work dir (a multi-stage entry's: its last stage's); ``summary``,
    ``run_stages``' summary of a multi-stage entry (its stages' configs and logs are copied too).
    """
    stem = stem_of(model_config(entry))
    os.makedirs(entry_dir, exist_ok=True)
    manifest = read_manifest(train_work)
    published = publish_model.publish(ckpt, osp.join(entry_dir, f'{stem}.pth'))
    for old in glob.glob(osp.join(entry_dir, f'{stem}-*.pth')):  # an earlier run's export
        if osp.abspath(old) != osp.abspath(published):
            os.remove(old)
    if summary is None:
        config = osp.join(entry_dir, f'{stem}.py')
        shutil.copyfile(manifest['resolved_config'], config)
        log = copy_logs(train_work, entry_dir, stem)
    else:
        config = write_zoo_stages(entry, summary, entry_dir, data_root)
        for name, ran in summary['stages'].items():  # the last stage's log is the entry's
            log = copy_logs(ran['work_dir'], entry_dir, f'{stem}_{name}')
    plain = osp.join(entry_dir, f'{stem}_plain.py')
    atomic_write(plain, plain_test_config(entry, manifest['resolved_config'], data_root,
                                          edit).pretty_text)
    return dict(weights=published, config=config, plain_config=plain, log=log)


def evaluate_entry(files, entry_dir, data_root):
    """Target-val mIoU / ECE (%) of the published file in its plain config, cached by content."""
    key = sha256_json(dict(weights=sha256_file(files['weights']),
                           config=sha256_file(files['plain_config']),
                           data=adaptation.toy_meta_hash(data_root), n_bins=adaptation.N_BINS))
    result_file = osp.join(entry_dir, 'zoo_result.json')
    cached = read_cached_result(result_file, key)
    if cached is not None:
        return cached
    metrics = evaluate_checkpoint(files['plain_config'], files['weights'],
                                  osp.join(entry_dir, 'eval'), n_bins=adaptation.N_BINS)
    # IoUMetric rounds to 2 decimals (a float32 value: 2.96 arrives as 2.9600000381...).
    result = dict(key=key, mIoU=round(float(metrics['mIoU']), 2),
                  ECE=round(100 * float(metrics['ECE']), 2))
    atomic_write(result_file, json.dumps(result, indent=1) + '\n')
    return result


# ------------------------------------------------------------------------------ metafiles
def load_yaml(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def dump_yaml(path, data):
    atomic_write(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


def repo_model(config):
    """(collection, model) of ``config`` in its folder's repository metafile."""
    meta = load_yaml(osp.join(REPO, osp.dirname(config), 'metafile.yaml'))
    model = next(m for m in meta['Models'] if m['Config'] == config)
    collection = next(c for c in meta['Collections'] if c['Name'] == model['In Collection'])
    return collection, model


def results_entry(result, data_root):
    return [dict(Task=TASK, Dataset=f'Toy target val ({data_root})',
                 Metrics=dict(mIoU=result['mIoU'], ECE=result['ECE']))]


def zoo_model(entry, files, result, zoo, data_root, seed, iters, source_name, stages=None):
    """One ``Models`` item of a zoo metafile (paths relative to the zoo folder); ``stages``:
    ``{stage: iterations}`` of a multi-stage entry (``iters`` is then their sum)."""
    _, model = repo_model(model_config(entry))
    rel = functools.partial(osp.relpath, start=zoo)
    metadata = dict(model.get('Metadata') or {})
    metadata.update({'Seed': seed, 'Iterations': iters, 'Setting': entry.setting.upper(),
                     'Test Config': rel(files['plain_config'])})
    if source_name:
        metadata['Source Model'] = source_name
    if stages:
        metadata['Stage Iterations'] = dict(stages)
    return {'Name': model['Name'], 'In Collection': model['In Collection'],
            'Config': rel(files['config']), 'Metadata': metadata,
            'Results': results_entry(result, data_root), 'Weights': rel(files['weights']),
            'Training log': rel(files['log'])}


def write_zoo_metafiles(zoo, models):
    """``<zoo>/<method>/metafile.yaml`` per method and ``<zoo>/model-index.yml``."""
    imports = []
    for method in sorted({method_of(e.config) for e, _ in models}):
        items = [(e, m) for e, m in models if method_of(e.config) == method]
        collections = []
        for e, _ in items:
            collection = dict(repo_model(model_config(e))[0])
            if 'README' in collection:  # still the repository's README, from the zoo folder
                collection['README'] = osp.relpath(osp.join(REPO, collection['README']), zoo)
            if collection not in collections:
                collections.append(collection)
        path = osp.join(zoo, method, 'metafile.yaml')
        dump_yaml(path, {'Collections': collections, 'Models': [m for _, m in items]})
        imports.append(osp.relpath(path, zoo))
    dump_yaml(osp.join(zoo, 'model-index.yml'), {'Import': imports})


def write_repo_results(models, data_root):
    """Replace the ``Results`` of the zoo's models in the repository's metafiles."""
    for method in sorted({method_of(e.config) for e, _ in models}):
        path = osp.join(REPO, 'configs', method, 'metafile.yaml')
        meta = load_yaml(path)
        for e, zm in models:
            if method_of(e.config) != method:
                continue
            model = next(m for m in meta['Models'] if m['Config'] == model_config(e))
            model['Results'] = zm['Results']
        dump_yaml(path, meta)
        print(f'[zoo] {osp.relpath(path, REPO)}: Results replaced', flush=True)


def write_readme(zoo, models):
    lines = ['# Toy model zoo', '', 'Written by `tools/benchmark/zoo.py`. Each number is '
             'reproduced, from the repository root, by the command of its row.', '',
             '| model | setting | target mIoU | target ECE (%) | weights | check |',
             '| --- | --- | --- | --- | --- | --- |']
    for e, m in models:
        metrics = m['Results'][0]['Metrics']
        plain = osp.join(zoo, m['Metadata']['Test Config'])
        weights = osp.join(zoo, m['Weights'])
        lines.append(f"| {m['Name']} | {e.setting} | {metrics['mIoU']:.2f} | "
                     f"{metrics['ECE']:.2f} | {m['Weights']} | "
                     f'`python tools/test.py {plain} {weights}` |')
    atomic_write(osp.join(zoo, 'README.md'), '\n'.join(lines) + '\n')


# ------------------------------------------------------------------------------ main
def train_entry(entry, work, seed, data_root, edit, start=None):
    """Train ``entry`` into ``work`` (cached by content, see ``train_config``).

    Args:
        start (str, optional): The source checkpoint an adapting entry starts from: the
            ``load_from`` of its config, or of its first stage.

    Returns:
        tuple: (the checkpoint to publish, the work dir of the run that wrote it, ``run_stages``'
        summary or None for a single-stage entry).
    """
    desc = f'{entry.name} seed {seed}'
    if not is_stages(entry.config):
        opts = [f'randomness.seed={seed}'] + ([f'load_from={start}'] if start else [])
        return train_config(entry.config, work, opts, desc=desc, data_root=data_root,
                            edit=edit), work, None
    first = stage_configs(entry.config)[0][0]
    opts = [f'{first}:load_from={start}'] if start else []
    print(f'[zoo] {desc}: stages of {entry.config} in {work}', flush=True)
    summary = stages_tool.run_stages(entry.config, work, seed, data_root, opts, edit=edit)
    last = summary['stages'][stage_configs(entry.config)[-1][0]]
    return last['checkpoint'], last['work_dir'], summary


def print_list(entries):
    print('zoo entries:')
    for e in entries:
        src = f', from {adaptation.SOURCES[e.network][0]}' if e.adapts else ''
        stages = (' (stages ' + ' -> '.join(n for n, _ in stage_configs(e.config)) + ')'
                  if is_stages(e.config) else '')
        print(f'  {e.name} ({e.setting}{src}): {e.config}{stages}')
    print('not in the zoo:')
    for config, why in not_in_zoo().items():
        print(f'  {config}: {why}')


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    if args.list:
        print_list(args.entries)
        return
    n_train, n_val, h, w = args.toy_size
    adaptation.toy.generate(args.data, progress=False, num_train=n_train, num_val=n_val,
                            height=h, width=w)
    edit = None
    if args.quick:
        edit = functools.partial(shorten_schedule, iters=args.quick, image_size=(h, w))
    source_ckpts, models = {}, []
    for entry in args.entries:
        work = osp.join(args.work_dir, run_name(entry.name, args.seed))
        source_name = start = None
        if entry.adapts:
            start = source_ckpts[adaptation.SOURCES[entry.network][0]]
            source_name = stem_of(adaptation.SOURCES[entry.network][2])  # its zoo model
        ckpt, train_work, summary = train_entry(entry, work, args.seed, args.data, edit, start)
        source_ckpts[entry.name] = ckpt
        entry_dir = osp.join(args.zoo, method_of(entry.config), stem_of(model_config(entry)))
        files = publish_entry(entry, ckpt, train_work, entry_dir, args.data, edit, summary)
        result = evaluate_entry(files, entry_dir, args.data)
        stages = None
        if summary is not None:
            stages = {name: read_manifest(ran['work_dir'])['max_iters']
                      for name, ran in summary['stages'].items()}
        iters = sum(stages.values()) if stages else read_manifest(work)['max_iters']
        models.append((entry, zoo_model(entry, files, result, args.zoo, args.data, args.seed,
                                        iters, source_name, stages)))
        print(f"[zoo] {entry.name}: mIoU {result['mIoU']:.2f}, ECE {result['ECE']:.2f} -> "
              f"{files['weights']}", flush=True)
        # After every entry, so an interrupted zoo keeps what it finished.
        write_zoo_metafiles(args.zoo, models)
        write_readme(args.zoo, models)
    if args.write_repo_metafiles:
        write_repo_results(models, args.data)
    with open(osp.join(args.zoo, 'README.md')) as f:
        print(f.read())


if __name__ == '__main__':
    main()
