"""What mmseg users expect: --tta, dist_test.sh, the inference demo on an exported checkpoint and
the pseudo-label visualisation, on tiny toy data with untrained toy models."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO, free_port
from mmsfda.utils.repo_tools import load_repo_tool

SOURCE = f'{REPO}/configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'
DACS = f'{REPO}/configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """Tiny toy data and two untrained checkpoints: a source model and a DACS model."""
    root = tmp_path_factory.mktemp('toy_infer')
    data = str(root / 'data')
    load_repo_tool('make_toy_data').generate(data, seed=0, num_train=2, num_val=3, height=32,
                                             width=64, progress=False)
    ckpts = {}
    for name, config, seed in (('source', SOURCE, 0), ('dacs', DACS, 1)):
        torch.manual_seed(seed)
        model = MODELS.build(Config.fromfile(config).model)
        model.init_weights()
        ckpts[name] = str(root / f'{name}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta=dict(seed=seed)), ckpts[name])
    return data, ckpts, root


def run(args, env=None):
    env = env or dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def test_tta_runs_multi_scale_and_flip(toy):
    data, ckpts, root = toy
    cfg = Config.fromfile(SOURCE)
    aug = cfg.tta_pipeline[1]['transforms']
    assert [t['scale_factor'] for t in aug[0]] == [0.75, 1.0, 1.25] and len(aug[1]) == 2
    out = run([sys.executable, 'tools/test.py', SOURCE, ckpts['source'], '--tta', '--work-dir',
               str(root / 'tta'), '--cfg-options', f'test_dataloader.dataset.data_root={data}/source',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'])
    # SegTTAModel ran: the whole (3-image) val set went through, one mIoU line
    done = re.findall(r'Iter\(test\) \[(\d+)/(\d+)\]', out)
    assert done and done[-1][0] == done[-1][1] and 'mIoU' in out, out[-3000:]


def test_test_out_writes_predictions_with_two_metrics(toy):
    """``tools/test.py --out DIR`` with our list of metrics (mmseg's own tool fails on a list):
    one prediction PNG per test image in DIR, and both metrics still computed."""
    data, ckpts, root = toy
    out_dir = str(root / 'preds')
    out = run([sys.executable, 'tools/test.py', SOURCE, ckpts['source'], '--work-dir',
               str(root / 'out_test'), '--cfg-options',
               f'test_dataloader.dataset.data_root={data}/source', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False', '--out', out_dir])
    assert 'mIoU' in out and 'ECE' in out
    images = sorted(os.listdir(f'{data}/source/images/val'))
    assert len(images) == 3 and sorted(os.listdir(out_dir)) == images


def test_translate_test_out():
    from mmsfda.utils.mmseg_tools import translate_test_out
    argv = ['test.py', SOURCE, 'c.pth', '--out', 'preds', '--cfg-options', 'a=1']
    assert translate_test_out(argv) == [
        'test.py', SOURCE, 'c.pth', '--cfg-options', 'test_evaluator.0.output_dir=preds',
        'test_evaluator.0.keep_results=True', 'a=1']
    assert translate_test_out(['test.py', SOURCE, 'c.pth', '--out=p'])[-3:] == [
        '--cfg-options', 'test_evaluator.0.output_dir=p', 'test_evaluator.0.keep_results=True']
    assert translate_test_out(['test.py', SOURCE, 'c.pth']) == ['test.py', SOURCE, 'c.pth']


def test_translate_test_out_finds_iou_subclasses(tmp_path):
    """A user's own IoUMetric subclass writes the predictions; a metric list without one fails."""
    from mmseg.evaluation import IoUMetric
    from mmseg.registry import METRICS

    from mmsfda.utils.mmseg_tools import translate_test_out, writes_prediction_files

    if 'UsersIoUMetricForTest' not in METRICS:
        @METRICS.register_module()
        class UsersIoUMetricForTest(IoUMetric):
            pass
    assert writes_prediction_files('UsersIoUMetricForTest')
    assert writes_prediction_files(METRICS.get('UsersIoUMetricForTest'))
    assert writes_prediction_files('SubsetIoUMetric')
    assert not writes_prediction_files('CalibrationMetric')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = ['{osp.abspath(SOURCE)}']\n"
                   "test_evaluator = [dict(type='CalibrationMetric'),\n"
                   "                  dict(type='UsersIoUMetricForTest')]\n")
    assert translate_test_out(['test.py', str(cfg), 'c.pth', '--out', 'p'])[-2:] == [
        'test_evaluator.1.output_dir=p', 'test_evaluator.1.keep_results=True']
    cfg.write_text(f"_base_ = ['{osp.abspath(SOURCE)}']\n"
                   "test_evaluator = [dict(type='CalibrationMetric')]\n")
    with pytest.raises(ValueError, match='needs an IoU metric'):
        translate_test_out(['test.py', str(cfg), 'c.pth', '--out', 'p'])


def test_dist_test_two_processes(toy):
    data, ckpts, root = toy
    out = run(['bash', 'tools/dist_test.sh', SOURCE, ckpts['source'], '2', '--work-dir',
               str(root / 'dist'), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
               f'test_dataloader.dataset.data_root={data}/source', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False'],
              env=dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()),
                       PATH=osp.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')))
    assert 'mIoU' in out


def test_demo_segments_a_folder_with_an_exported_checkpoint(toy):
    data, ckpts, root = toy
    exported = load_repo_tool('publish_model').publish(ckpts['dacs'], str(root / 'dacs_toy.pth'))
    images = f'{data}/target/images/val'
    out_dir = str(root / 'demo')
    demo = load_repo_tool('../demo/image_demo')
    demo.main([DACS, exported, images, '--out-dir', out_dir, '--device', 'cpu'])
    names = sorted(osp.basename(p) for p in glob.glob(f'{images}/*.png'))
    assert sorted(os.listdir(f'{out_dir}/pred')) == names
    assert sorted(os.listdir(f'{out_dir}/vis')) == names
    # the prediction is the student's
    student = MODELS.build(Config.fromfile(DACS).model.student)
    student.load_state_dict(torch.load(exported, weights_only=False)['state_dict'])
    student.eval()
    from mmsfda.apis.inference import build_inferencer
    inferencer = build_inferencer(DACS, exported, device='cpu')
    # no dataset_meta in the checkpoint: the config's (toy, 10 classes), not mmseg's Cityscapes
    assert len(inferencer.model.dataset_meta['classes']) == 10
    want = inferencer(f'{images}/{names[0]}')['predictions']
    got = cv2.imread(f'{out_dir}/pred/{names[0]}', cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(got, want)


def test_visualize_pseudo_labels_writes_overlays_and_iou_chart(toy):
    data, ckpts, root = toy
    out_dir = str(root / 'vis')
    tool = load_repo_tool('analysis/visualize_pseudo_labels')
    written = tool.main([DACS, ckpts['dacs'], '--source-checkpoint', ckpts['source'], '--out-dir',
                         out_dir, '--num-images', '2', '--cfg-options',
                         f'test_dataloader.dataset.data_root={data}/target'])
    assert len(written) == 2
    grid = cv2.imread(written[0])
    assert grid.shape == (2 * (32 + 22), 2 * 64, 3)  # 2x2 panels with title strips
    with open(osp.join(out_dir, 'iou_per_class.json')) as f:
        ious = json.load(f)
    assert set(ious) == {'source-only', 'adapted'} and len(ious['adapted']) == 10
    assert osp.isfile(osp.join(out_dir, 'iou_per_class.png'))
    # DACS has an online labeler: the pseudo-label panel comes from it
    assert tool.pseudo_labels.__doc__


def test_overlay_colours_and_ignore():
    tool = load_repo_tool('analysis/visualize_pseudo_labels')
    img = np.full((1, 2, 3), 100, np.uint8)
    out = tool.overlay(img, np.array([[1, 255]]), [(0, 0, 0), (200, 0, 0)], 0.5)
    assert out[0, 0].tolist() == [150, 50, 50] and out[0, 1].tolist() == [50, 50, 50]
