"""tools/analysis/reliability_diagram.py and mmsfda.visualization.plot_reliability."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO

TOOL = osp.join(REPO, 'tools', 'analysis', 'reliability_diagram.py')
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def write_reliability_json(path, seed, scale):
    """A reliability JSON written by CalibrationMetric itself, from random predictions."""
    from mmsfda.evaluation.metrics.calibration_metric import CalibrationMetric
    g = torch.Generator().manual_seed(seed)
    metric = CalibrationMetric(n_bins=15, out_file=str(path))
    samples = []
    for _ in range(3):
        logits = torch.randn(4, 16, 16, generator=g) * scale
        label = torch.where(torch.rand(16, 16, generator=g) < 0.7, logits.argmax(0),
                            torch.randint(0, 4, (16, 16), generator=g))
        samples.append(dict(seg_logits=dict(data=logits), gt_sem_seg=dict(data=label[None])))
    metric.process({}, samples)
    metric.compute_metrics(metric.results)
    return str(path)


def assert_png(path, min_width=200):
    import matplotlib.image as mpimg
    assert osp.isfile(path) and osp.getsize(path) > 2000
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.shape[1] >= min_width
    assert img[..., :3].std() > 0.05  # something was drawn
    return img


def test_plot_reliability_from_json(tmp_path):
    from mmsfda.visualization import load_reliability, plot_reliability

    a = load_reliability(write_reliability_json(tmp_path / 'a.json', 0, 1.0))
    b = load_reliability(write_reliability_json(tmp_path / 'b.json', 1, 6.0))
    assert a['ECE'] != b['ECE']
    one = assert_png(plot_reliability({'A': a}, str(tmp_path / 'one.png')))
    two = assert_png(plot_reliability({'A': a, 'B': b}, str(tmp_path / 'out' / 'two.png'),
                                      title='with / without ECE loss'))
    assert two.shape[1] > 2 * one.shape[1]  # two panels plus the overlay panel
    assert not [p for p in os.listdir(tmp_path / 'out') if p.startswith('.tmp-')]

    with open(tmp_path / 'bad.json', 'w') as f:
        json.dump({'ECE': 0.1}, f)
    with pytest.raises(ValueError, match='not a reliability file'):
        load_reliability(str(tmp_path / 'bad.json'))


def test_import_mmsfda_does_not_load_plotting():
    code = 'import sys, mmsfda; assert "mmsfda.visualization" not in sys.modules'
    subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True, timeout=300)


def test_display_bins_merge_the_confidence_one_bin():
    from mmsfda.visualization.reliability_diagram import _display_bins
    curve = dict(bin_lower=[0, 0.5, 1.0], bin_upper=[0.5, 1.0, 1.0], count=[2, 3, 5],
                 conf_sum=[0.8, 2.1, 5.0], correct=[1, 2, 5])
    lower, upper, count, conf, acc = _display_bins(curve)
    assert lower.tolist() == [0, 0.5] and upper.tolist() == [0.5, 1.0]
    assert count.tolist() == [2, 8]
    np.testing.assert_allclose(conf, [0.4, 7.1 / 8])
    np.testing.assert_allclose(acc, [0.5, 7 / 8])


def run_tool(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
               MPLBACKEND='module://not_a_backend')  # the tool must not depend on a GUI backend
    proc = subprocess.run([sys.executable, TOOL] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_cli_from_json(tmp_path):
    a = write_reliability_json(tmp_path / 'a.json', 0, 1.0)
    b = write_reliability_json(tmp_path / 'b.json', 1, 6.0)
    out = str(tmp_path / 'diagram.png')
    log = run_tool(['--json', a, b, '--labels', 'CE', 'CE+ECE', '--out', out], str(tmp_path))
    assert 'reliability diagram written to' in log
    assert_png(out)


MODEL_CONFIG = '''
default_scope = 'mmseg'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[128, 128, 128], std=[64, 64, 64],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, ), norm_cfg=norm_cfg),
    decode_head=dict(type='FCNHead', in_channels=64, channels=8, num_convs=1,
                     concat_input=False, num_classes=4, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]
test_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', data_root='{data}', metainfo=dict(classes={classes}),
                 img_suffix='.png', seg_map_suffix='.png',
                 data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
'''


def test_cli_from_config_and_checkpoint(tiny_seg_data, tmp_path):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmsfda  # noqa: F401
    cfg_path = str(tmp_path / 'tiny.py')
    with open(cfg_path, 'w') as f:
        f.write(MODEL_CONFIG.format(data=tiny_seg_data, classes=('a', 'b', 'c', 'd')))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    ref = write_reliability_json(tmp_path / 'ref.json', 0, 1.0)

    out = str(tmp_path / 'cmp.png')
    work = str(tmp_path / 'work')
    log = run_tool(['--json', ref, '--model', cfg_path, ckpt, '--labels', 'ref', 'tiny',
                    '--num-samples', '2', '--work-dir', work, '--out', out], str(tmp_path))
    assert 'tiny: ECE' in log
    assert_png(out)
    with open(osp.join(work, '0_tiny', 'reliability.json')) as f:
        data = json.load(f)
    assert data['num_pixels'] == 2 * 32 * 64  # two samples evaluated at label resolution
    assert data['n_bins'] == 15 and 0 <= data['ECE'] <= 1
