"""tools/entropy_rank.py on an ACDC propagate config (one condition): it ranks that condition's
train images through the config's rank dataloader, and Propagate's easy/hard pairs read the split
while another condition's config refuses it. A toy network stands in for DAFormer MiT-B5."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from conftest import REPO
from test_datasets.test_acdc import write_acdc

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
from toy_self_training import make_source_checkpoint  # noqa: E402

TOY = 'configs/atp/atp-propagate_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
ACDC = 'configs/atp/atp-propagate_daformer_mitb5_1xb2-40k_cityscapes-to-acdc-{}-640x640.py'


def acdc_config(condition, root):
    """The ACDC propagate config of ``condition`` reading ``root``, with the toy network."""
    cfg = Config.fromfile(osp.join(REPO, ACDC.format(condition)))
    cfg.model = Config.fromfile(osp.join(REPO, TOY)).model
    rank = cfg.train_cfg.rank_dataloader
    rank.update(num_workers=0, persistent_workers=False)
    rank.dataset.data_root = root
    rank.dataset.pipeline[1].scale = (128, 72)  # the (1280, 720) test scale / 10: a fast test
    cfg.train_dataloader.dataset.dataset.data_root = root
    return cfg


def test_entropy_rank_splits_one_acdc_condition(tmp_path):
    from mmsfda.utils.repo_tools import load_repo_tool
    root = str(tmp_path / 'acdc')
    expected = write_acdc(root, conditions=('fog', 'night'), splits=('train', ), num=4)
    cfg = acdc_config('night', root)
    cfg.dump(str(tmp_path / 'night.py'))
    ckpt = make_source_checkpoint(str(tmp_path / 'model.pth'), config=TOY)
    out = str(tmp_path / 'split')
    load_repo_tool('entropy_rank').main([str(tmp_path / 'night.py'), ckpt, '--out', out])
    easy = open(osp.join(out, 'easy_split.txt')).read().split()
    hard = open(osp.join(out, 'hard_split.txt')).read().split()
    assert len(easy) == 1 and len(hard) == 3  # round(0.3 * 4) of the night images only
    assert sorted(easy + hard) == sorted(k for k in expected if k.startswith('night/'))
    pairs = DATASETS.build(dict(cfg.train_dataloader.dataset, split_dir=out))
    assert len(pairs) == 3
    item = pairs[0]
    assert item['easy']['inputs'].shape[-2:] == (640, 640)  # the 640x640 crops of Propagate
    assert '/night/train/' in item['target']['data_samples'].img_path
    # the fog config with the night split: refused, not trained on the wrong images
    fog = acdc_config('fog', root)
    with pytest.raises(ValueError, match='outside .*other conditions'):
        DATASETS.build(dict(fog.train_dataloader.dataset, split_dir=out))
