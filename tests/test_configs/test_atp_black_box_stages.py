"""ATP's black-box pipeline end to end through tools/run_stages.py (each stage by mmseg's own
tools/train.py), shortened: the source model answers once (tools/atp_black_box_predictions.py),
then distill -> A -> T -> P (configs/atp/stages_black_box_toy.py), each stage from the previous
stage's last checkpoint, none from the source weights."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
sys.path.insert(0, osp.join(REPO, 'tools'))
from atp_black_box_predictions import main as write_predictions  # noqa: E402
from toy_self_training import SIZE, make_source_checkpoint, make_toy_data  # noqa: E402

RUN = osp.join(REPO, 'tools', 'run_stages.py')
STAGES = osp.join(REPO, 'configs', 'atp', 'stages_black_box_toy.py')
SOURCE_CONFIG = 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'
# the network of the ATP toy configs' student, which is the source-only config's model
ALIGN = 'configs/atp/atp-align_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
LOADERS = {
    'distill': ('train_dataloader', 'val_dataloader'),
    'align': ('train_dataloader', 'val_dataloader'),
    'teach': ('train_dataloader', 'val_dataloader', 'train_cfg.label_dataloader'),
    'propagate': ('train_dataloader', 'val_dataloader', 'train_cfg.rank_dataloader'),
}


def read(path):
    with open(path) as f:
        return f.read()


def stage_options(pred_dir):
    """``NAME:KEY=VALUE`` options: two iterations per stage (rounds of one), no validation, small
    loaders, the tiny images' padding."""
    size = f'[{SIZE[0]},{SIZE[1]}]'
    common = ['default_hooks.logger.interval=1', f'data_preprocessor.size={size}',
              f'model.student.data_preprocessor.size={size}']
    two = ['train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
           'default_hooks.checkpoint.interval=2']
    per_stage = dict(
        distill=[*two, f'train_dataloader.dataset.pipeline.1.pred_dir={pred_dir}'],
        align=[*two, 'model.target_losses.0.rho_iters=2'],
        teach=['train_cfg.rounds=[1,1]', 'train_cfg.val_interval=1000',
               'default_hooks.checkpoint.interval=1'],
        propagate=[*two, 'model.contrast_begin=1'])
    out = []
    for name, opts in per_stage.items():
        loaders = [f'{loader}.{k}' for loader in LOADERS[name]
                   for k in ('batch_size=2', 'num_workers=0', 'persistent_workers=False')]
        out += [f'{name}:{o}' for o in (*common, *loaders, *opts)]
    return out


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp('atp_black_box')
    data = make_toy_data(str(root))
    source = make_source_checkpoint(str(root / 'source.pth'), config=ALIGN)
    pred_dir = str(root / 'predictions')
    write_predictions([osp.join(REPO, SOURCE_CONFIG), source, f'{data}/target/images/train',
                       '--out', pred_dir])
    work = str(root / 'run')
    cmd = [sys.executable, RUN, STAGES, '--work-dir', work, '--seed', '0', '--data-root', data,
           '--cfg-options', *stage_options(pred_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = ''.join(read(f) for f in sorted(glob.glob(f'{work}/*/*/*.log')))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + logs[-3000:]
    with open(osp.join(work, 'summary.json')) as f:
        summary = json.load(f)
    return dict(work=work, source=source, summary=summary['stages'])


def test_every_stage_hands_its_last_checkpoint_on(pipeline):
    stages = pipeline['summary']
    assert list(stages) == ['distill', 'align', 'teach', 'propagate']
    for name, stage in stages.items():
        assert osp.isfile(stage['checkpoint']), (name, stage)
    text = json.dumps(stages)
    assert pipeline['source'] not in text  # no stage starts from the source weights


def test_each_stage_trains_its_step(pipeline):
    work = pipeline['work']

    def log(name):
        return ''.join(read(p) for p in glob.glob(osp.join(work, name, '*', '*.log')))

    assert 'tgt.loss_kl' in log('distill')
    assert 'tgt.loss_neg' in log('teach') and 'tgt.loss_pl_ce' in log('teach')
    assert osp.isfile(osp.join(work, 'propagate', 'entropy_split', 'split_meta.json'))
    state = torch.load(pipeline['summary']['propagate']['checkpoint'], map_location='cpu',
                       weights_only=False)['state_dict']
    assert state['aux.prototypes.count'].sum() > 0

    def dumped(name):
        paths = glob.glob(osp.join(work, name, '*', 'vis_data', 'config.py'))
        assert paths, name
        return Config.fromfile(paths[0])

    # the black-box A adds the diversity term (the white-box A has none), T labels half of each
    # class from the first round (the white box: 0.2, growing)
    assert dumped('align').model.target_losses[0].div_weight == 0.4
    labeler = dumped('teach').model.pseudo_labeler
    assert (labeler.proportion, labeler.proportion_step) == (0.5, 0.0)
    # the black-box P keeps the warmed-up EMA teacher (the white-box one is anchored to T)
    assert dumped('propagate').default_hooks.mean_teacher.ramp is True
