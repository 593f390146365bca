"""tools/gen_pseudo_labels.py on tiny toy data: files, manifest, reuse, resume, TTA, errors."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
from toy_self_training import CBST, make_source_checkpoint, make_toy_data  # noqa: E402

TOOL = osp.join(REPO, 'tools', 'gen_pseudo_labels.py')
STEMS = [f'{i:05d}' for i in range(4)]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('gen')
    data = make_toy_data(str(root))
    return data, make_source_checkpoint(str(root / 'source.pth'))


def run(data, checkpoint, out, *extra, config=CBST, ok=True):
    target = f'{data}/target'
    opts = ['train_cfg.label_dataloader.batch_size=2', 'train_cfg.label_dataloader.num_workers=0',
            'train_cfg.label_dataloader.persistent_workers=False',
            f'train_cfg.label_dataloader.dataset.data_root={target}',
            'data_preprocessor.size=[64,128]', 'model.student.data_preprocessor.size=[64,128]']
    cmd = [sys.executable, TOOL, osp.join(REPO, config), checkpoint, '--out', out,
           '--device', 'cpu', *extra, '--cfg-options', *opts]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    out_text = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, out_text[-4000:]
    return out_text


def manifest(out):
    with open(osp.join(out, 'manifest.json')) as f:
        return json.load(f)


def pngs(out):
    return {osp.basename(p): open(p, 'rb').read() for p in sorted(glob.glob(f'{out}/*.png'))}


def test_labels_reuse_and_resume(setup, tmp_path):
    data, ckpt = setup
    out = str(tmp_path / 'labels')
    text = run(data, ckpt, out, '--round', '2')
    assert 'wrote the pseudo-labels of 4 images' in text
    assert sorted(os.listdir(out)) == sorted(
        [f'{s}.png' for s in STEMS] + [f'{s}_weight.png' for s in STEMS] +
        ['identity.json', 'labeler_state.pt', 'manifest.json'])
    m = manifest(out)
    assert m['identity']['round'] == 2 and m['identity']['tta'] is None
    # The CBST base's schedule: proportion 0.5 (the toy config), round 2.
    assert m['identity']['labeler']['type'] == 'ClassBalancedLabeler'
    assert m['labeler_state']['round'] == 2 and len(m['labeler_state']['thresholds']) == 10
    assert 0.2 < m['stats']['coverage'] < 0.8
    first = pngs(out)

    # The same command again: the complete directory is reused, nothing is rewritten.
    mtimes = {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{out}/*')}
    assert 'reused the pseudo-labels of 4 images' in run(data, ckpt, out, '--round', '2')
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{out}/*')} == mtimes

    # A killed run (no manifest, one image missing): resumed, the files equal the first run's.
    os.remove(osp.join(out, 'manifest.json'))
    os.remove(osp.join(out, f'{STEMS[3]}.png'))
    run(data, ckpt, out, '--round', '2', '--no-progress')
    assert manifest(out)['reused_images'] == 3 and pngs(out) == first

    # Test-time augmentation is another labelling: relabelled, and the log says why.
    text = run(data, ckpt, out, '--round', '2', '--tta', 'scales=[0.75,1.0]', 'flip=True')
    assert 'relabelling' in text and 'tta' in text
    m = manifest(out)
    assert m['identity']['tta'] == dict(scales=[0.75, 1.0], fusion='mean', flip=True,
                                        crop_size=None, stride=None)
    assert pngs(out) != first


def test_errors(setup, tmp_path):
    data, ckpt = setup
    text = run(data, str(tmp_path / 'missing.pth'), str(tmp_path / 'a'), ok=False)
    assert 'checkpoint not found' in text
    text = run(data, ckpt, str(tmp_path / 'b'), '--tta', 'fusion=median', ok=False)
    assert 'fusion' in text
