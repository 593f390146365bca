"""The pretrained:// scheme: offline ImageNet initialisation through mmengine's real init path."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS

from conftest import REPO
from mmsfda.utils.pretrained import PRETRAINED, resolve_pretrained
from test_tools.test_model_converters import CaffeDeepLab, caffe_model_cfg
from mmsfda.utils.repo_tools import load_repo_tool

NAME = 'deeplabv2_resnet101_caffe_imagenet.pth'


@pytest.fixture
def pretrained_dir(tmp_path, monkeypatch):
    """An empty MMSFDA_PRETRAINED_DIR, working directory elsewhere (no ./pretrained)."""
    d = tmp_path / 'weights'
    d.mkdir()
    monkeypatch.setenv('MMSFDA_PRETRAINED_DIR', str(d))
    monkeypatch.chdir(tmp_path)
    return d


def write_caffe_imagenet(folder):
    """The ImageNet file as users make it: the generated caffe layout through the converter."""
    torch.manual_seed(0)
    ref = CaffeDeepLab()
    tool = load_repo_tool('model_converters/deeplabv2_caffe2mmseg')
    weights = tool.convert_deeplabv2(ref.state_dict_without_tracking('Scale.'), backbone_only=True)
    torch.save(weights, osp.join(folder, NAME))
    return weights


def test_missing_file_names_it_and_the_converter(pretrained_dir):
    with pytest.raises(FileNotFoundError) as err:
        resolve_pretrained(f'pretrained://{NAME}')
    msg = str(err.value)
    assert f'looked for {NAME} in: {pretrained_dir}' in msg
    assert 'DeepLab_resnet_pretrained_init-f81d91e8.pth' in msg
    assert f'deeplabv2_caffe2mmseg.py DeepLab_resnet_pretrained_init-f81d91e8.pth ' \
           f'{osp.join(pretrained_dir, NAME)} --backbone-only' in msg
    assert set(PRETRAINED) >= {NAME, 'mit_b5.pth', 'resnet101_torchvision_imagenet.pth'}
    # the model bases name files the table knows
    for base, name in (('deeplabv2_r101_caffe.py', NAME),
                       ('deeplabv2_r101.py', 'resnet101_torchvision_imagenet.pth'),
                       ('daformer_mitb5.py', 'mit_b5.pth')):
        cfg = Config.fromfile(f'{REPO}/configs/_base_/models/{base}')
        assert cfg.model.backbone.init_cfg.checkpoint == f'pretrained://{name}'


def test_init_weights_reads_the_local_file(pretrained_dir):
    weights = write_caffe_imagenet(pretrained_dir)
    cfg = caffe_model_cfg()
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=f'pretrained://{NAME}')
    model = MODELS.build(cfg)
    model.init_weights()  # mmengine's PretrainedInit -> CheckpointLoader -> pretrained://
    own = model.backbone.state_dict()
    assert set(own) == set(weights)
    for k, v in weights.items():
        assert torch.equal(own[k], v), k


def run_cfg(data, work_dir, load_from=None):
    model = caffe_model_cfg(num_classes=4)
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=f'pretrained://{NAME}')
    model.data_preprocessor.size = (32, 64)
    dataset = dict(type='BaseSegDataset', data_root=data, metainfo=dict(classes=('a', 'b', 'c', 'd')),
                   img_suffix='.png', seg_map_suffix='.png',
                   data_prefix=dict(img_path='img', seg_map_path='ann'),
                   pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                             dict(type='PackSegInputs')])
    return Config(dict(
        model=model, work_dir=work_dir, default_scope='mmseg', load_from=load_from,
        train_dataloader=dict(batch_size=2, num_workers=0, dataset=dataset,
                              sampler=dict(type='InfiniteSampler', shuffle=False)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)),
        randomness=dict(seed=0)))


def test_run_from_a_source_checkpoint_needs_no_imagenet_file(pretrained_dir, tiny_seg_data,
                                                            tmp_path):
    # Without the file a fresh run fails before iteration 1, naming the file.
    runner = Runner.from_cfg(run_cfg(tiny_seg_data, str(tmp_path / 'fresh')))
    with pytest.raises(FileNotFoundError, match=f'looked for {NAME}'):
        runner.train()
    # With it, the run initialises from it; its checkpoint then starts a second run (an adaptation
    # from a source model) that does not read the ImageNet file, which is gone by then.
    weights = write_caffe_imagenet(pretrained_dir)
    Runner.from_cfg(run_cfg(tiny_seg_data, str(tmp_path / 'source'))).train()
    source = str(tmp_path / 'source' / 'iter_1.pth')
    (pretrained_dir / NAME).unlink()
    runner = Runner.from_cfg(run_cfg(tiny_seg_data, str(tmp_path / 'adapt'), load_from=source))
    runner.train()
    src = torch.load(source, map_location='cpu', weights_only=False)['state_dict']
    assert not torch.equal(src['backbone.layer1.0.conv1.weight'],
                           weights['layer1.0.conv1.weight'])  # the source run trained
