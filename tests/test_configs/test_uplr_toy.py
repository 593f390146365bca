"""UPLR's stage 2 (UPST, threshold-free GMM pseudo-labels) through mmseg's tools/train.py runner on
tiny images: every round relabels the target set with I^c, S_k and the mixtures recomputed by the
model of that round, labels are class ids or ignore (never NaN), and a run killed in round 2
resumes to the uninterrupted run's weights. Also: UPLR's stages files (tools/run_stages.py) name
existing configs, hand each stage to the next and keep every data root under theirs."""
import glob
import json
import math
import os.path as osp
import sys

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from conftest import REPO, data_roots

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
sys.path.insert(0, osp.join(REPO, 'tools'))
from run_stages import load_stages  # noqa: E402
from test_exact_resume import Killed, KillAfterIter, differing, make_cfg, train  # noqa: E402
from toy_self_training import make_source_checkpoint, make_toy_data  # noqa: E402

S2 = 'configs/uplr/uplr-s2-st_deeplabv2_r18-tiny_1xb4-2x200_toy-target-128x256.py'
NUM_CLASSES = 10
ROUNDS = (2, 2)


def s2_cfg(data, work, source, **kwargs):
    return make_cfg(S2, data, work, [
        f'load_from={source}', f'train_cfg.rounds=[{ROUNDS[0]},{ROUNDS[1]}]',
        'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=1',
        'param_scheduler.0.end=4', 'model.pseudo_labeler.min_pixels=5'], **kwargs)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp('uplr_s2')
    data = make_toy_data(str(root))
    source = make_source_checkpoint(str(root / 'source.pth'), config=S2)
    work = root / 'reference'
    train(s2_cfg(data, work, source))
    return data, source, work


def test_every_round_relabels_with_its_own_uncertainty_and_mixtures(reference):
    _, _, work = reference
    states = []
    for r in range(len(ROUNDS)):
        round_dir = work / 'pseudo_labels' / f'round_{r}'
        manifest = json.load(open(round_dir / 'manifest.json'))
        state = manifest['labeler_state']
        for key in ('class_uncertainty.values', 'class_uncertainty.uncertain', 'gmm_means',
                    'gmm_variances', 'gmm_weights', 'status'):
            assert key in state, (r, sorted(state))
        values = np.asarray(state['class_uncertainty.values'], dtype=float)
        assert values.shape == (NUM_CLASSES, ) and np.isfinite(values).all()
        assert ((values >= 0) & (values <= 1)).all()
        assert all(math.isfinite(v) for row in state['gmm_means'] for v in row)
        labels = sorted(glob.glob(str(round_dir / '*.png')))
        labels = [p for p in labels if not p.endswith('_weight.png')]
        assert labels, f'no label files in {round_dir}'
        for path in labels:
            ids = set(np.unique(np.asarray(Image.open(path))).tolist())
            assert ids <= set(range(NUM_CLASSES)) | {255}, (path, ids)
        states.append(values)
    # round 1 is labelled by the model trained in round 0: I^c recomputed, not carried over
    assert not np.array_equal(states[0], states[1])


def test_killed_in_round_two_resumes_as_the_uninterrupted_run(reference, tmp_path):
    data, source, ref = reference
    work = tmp_path / 'killed'
    n = sum(ROUNDS)
    with pytest.raises(Killed):
        train(s2_cfg(data, work, source), hooks=[KillAfterIter(n - 1)])
    assert not osp.exists(work / f'iter_{n}.pth')
    runner = train(s2_cfg(data, work, source, resume=True))
    assert runner.iter == n
    diff = differing(str(ref / f'iter_{n}.pth'), str(work / f'iter_{n}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


@pytest.mark.parametrize('name', ['toy', 'gta5', 'synthia'])
def test_stage_files(name):
    spec = load_stages(osp.join(REPO, 'configs', 'uplr', f'stages_{name}.py'))
    names = [s['name'] for s in spec['stages']]
    assert names[-2:] == ['aa', 'st']
    # each stage starts from the one before (the first from --cfg-options or a source stage)
    assert [s['load_from'] for s in spec['stages']][1:] == names[:-1]
    kinds = []
    for stage in spec['stages']:
        cfg = Config.fromfile(stage['config'])
        roots = list(data_roots(cfg._cfg_dict))
        root = spec['data_root']
        assert roots and all(r == root or r.startswith(root + '/') for r in roots), roots
        kinds.append(cfg.train_cfg.get('type'))
    assert kinds[-1] == 'SelfTrainingLoop'  # stage 2: GMM self-training rounds
