"""HRDA / MIC(HRDA) configs: the real ones' geometry and loader (pseudo-label margins made before
the 1024x1024 crop); the toy ones train through tools/train.py in test_uda_baseline_configs.py
and under DDP in test_distributed.py."""
import glob
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import mmsfda  # noqa: F401
from conftest import REPO

REAL = sorted(glob.glob(osp.join(REPO, 'configs', 'hrda', '*-to-cityscapes-*.py')) +
              glob.glob(osp.join(REPO, 'configs', 'mic', 'mic-hrda_*-to-cityscapes-*.py')))
TOY = sorted(glob.glob(osp.join(REPO, 'configs', 'hrda', '*toy*.py')) +
             glob.glob(osp.join(REPO, 'configs', 'mic', 'mic-hrda_*toy*.py')))


def test_both_methods_and_benchmarks_have_configs():
    assert len(REAL) == 4 and len(TOY) == 2
    for name in ('gta5', 'synthia'):
        assert sum(name in c for c in REAL) == 2


@pytest.mark.parametrize('path', REAL, ids=osp.basename)
def test_real_config_geometry(path):
    """1024x1024 crops of the 2x-size images, context 0.5, detail 512 (corners % 8), detail loss
    0.1, test by 1024x1024 windows with stride 512, RCS min_crop_ratio 2.0, no per-crop row cut."""
    cfg = Config.fromfile(path)
    student = cfg.model.student
    assert cfg.model.type == ('MICSegmentor' if '/mic/' in path else 'DAFormerSegmentor')
    assert student.type == 'HRDAEncoderDecoder' and student.context_scale == 0.5
    assert tuple(student.detail_crop_size) == (512, 512) and student.crop_coord_divisible == 8
    assert student.decode_head.detail_loss_weight == 0.1
    assert student.decode_head.head.type == 'DAFormerHead'
    assert student.test_cfg.mode == 'slide' and tuple(student.test_cfg.crop_size) == (1024, 1024)
    assert tuple(student.test_cfg.stride) == (512, 512)
    assert tuple(cfg.data_preprocessor.size) == (1024, 1024)
    ds = cfg.train_dataloader.dataset
    assert ds.rare_class_sampling.min_crop_ratio == 2.0 and cfg.train_dataloader.batch_size == 2
    assert not cfg.model.pseudo_labeler.get('ignore_top') and not cfg.model.pseudo_labeler.get(
        'ignore_bottom')
    src_resize = [t for t in ds.source.pipeline if t.type == 'Resize'][0]
    assert src_resize.scale == ((2560, 1440) if 'gta5' in path else (2560, 1520))
    if '/mic/' in path:
        assert cfg.model.masking.patch_size == 64 and cfg.model.masking.mask_ratio == 0.7


def test_cityscapes_hr_loader_crops_the_margins_with_the_image(tmp_path):
    """The real target pipeline on a generated 2048x1024 frame: a 1024x1024 crop whose
    valid_pseudo_mask is the frame's margin mask (30 / 240 / 30 / 30) cropped alike."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(REAL[0])
    img = np.random.default_rng(0).integers(0, 255, (1024, 2048, 3), dtype=np.uint8)
    img[:, :, 0] = np.arange(1024)[:, None] // 4  # the row, to find the crop again
    path = str(tmp_path / 'frame.png')
    mmcv.imwrite(img, path)
    pipeline = Compose(cfg.train_dataloader.dataset.target.pipeline)
    for seed in range(4):
        np.random.seed(seed)
        out = pipeline(dict(img_path=path, seg_fields=[], reduce_zero_label=False))
        mask = out['data_samples'].valid_pseudo_mask.data[0].numpy()
        assert out['inputs'].shape[1:] == (1024, 1024) and mask.shape == (1024, 1024)
        group = out['inputs'][0, :, 0].numpy().astype(int)  # frame row // 4 of each crop row
        inside = (group >= 8) & (group < (1024 - 240) // 4)  # rows 32..783 (30..783 valid)
        outside = (group < 7) | (group >= (1024 - 240) // 4)  # rows 0..27, 784.. (29 is in 7)
        assert not mask[outside].any()
        assert mask[inside].any(axis=1).all()
