"""tools/model_converters: the papers' weight layouts load into mmsfda's model bases.

The source checkpoints are generated here in the original layouts (small widths): a caffe DeepLabV2
ResNet written from the description of AdaptSegNet's ``model/deeplab.py`` (stride in the first 1x1
conv, full dilation in every block of layers 3/4, a ceil-mode stem max-pool, ASPP classifiers
summed, keys ``Scale.*`` for the ImageNet file) and SegFormer's MiT key layout.
"""
import copy
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO
from mmsfda.utils.repo_tools import load_repo_tool

WIDTH = 4  # base channels of the generated ResNet-101 (the real one: 64)
BLOCKS = (3, 4, 23, 3)


class _Bottleneck(nn.Module):

    def __init__(self, inplanes, planes, stride, dilation, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class _Aspp(nn.Module):

    def __init__(self, channels, num_classes):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(channels, num_classes, 3, padding=d, dilation=d) for d in (6, 12, 18, 24))

    def forward(self, x):
        return sum(conv(x) for conv in self.conv2d_list)


class CaffeDeepLab(nn.Module):
    """The reference network; ``two_level``: classifiers on layer 3 (layer5) and 4 (layer6)."""

    def __init__(self, num_classes=5, two_level=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, WIDTH, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTH)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        inplanes = WIDTH
        for i, (n, stride, dilation) in enumerate(zip(BLOCKS, (1, 2, 1, 1), (1, 1, 2, 4))):
            planes = WIDTH * 2**i
            down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(planes * 4))
            layers = [_Bottleneck(inplanes, planes, stride, dilation, down)]
            layers += [_Bottleneck(planes * 4, planes, 1, dilation, None) for _ in range(n - 1)]
            setattr(self, f'layer{i + 1}', nn.Sequential(*layers))
            inplanes = planes * 4
        self.two_level = two_level
        if two_level:
            self.layer5 = _Aspp(inplanes // 2, num_classes)
            self.layer6 = _Aspp(inplanes, num_classes)
        else:
            self.layer5 = _Aspp(inplanes, num_classes)
        for m in self.modules():  # non-trivial BN statistics, so a wrong mapping shows
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.1, 0.1)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        c3 = self.layer3(self.layer2(self.layer1(x)))
        c4 = self.layer4(c3)
        return (self.layer5(c3), self.layer6(c4)) if self.two_level else (c3, c4)

    def state_dict_without_tracking(self, prefix=''):
        """As the old caffe-converted files: no ``num_batches_tracked``."""
        return {prefix + k: v for k, v in self.state_dict().items()
                if not k.endswith('num_batches_tracked')}


def caffe_model_cfg(num_classes=5, two_level=False):
    """``configs/_base_/models/deeplabv2_r101_caffe.py`` at the generated width."""
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/deeplabv2_r101_caffe.py').model
    cfg.backbone.update(base_channels=WIDTH, stem_channels=WIDTH, init_cfg=None)
    cfg.decode_head.update(in_channels=WIDTH * 32, num_classes=num_classes)
    if two_level:
        cfg.backbone.out_indices = (2, 3)
        cfg.decode_head.in_index = 1
        cfg.auxiliary_head = dict(copy.deepcopy(cfg.decode_head), in_channels=WIDTH * 16,
                                  in_index=0)
    return cfg


@pytest.fixture(scope='module')
def caffe_converter():
    return load_repo_tool('model_converters/deeplabv2_caffe2mmseg')


def test_caffe_imagenet_backbone_gives_the_reference_features(caffe_converter):
    torch.manual_seed(0)
    ref = CaffeDeepLab().eval()
    converted = caffe_converter.convert_deeplabv2(ref.state_dict_without_tracking('Scale.'),
                                                  backbone_only=True)
    assert not any(k.startswith(('layer5', 'backbone.')) for k in converted)
    cfg = caffe_model_cfg()
    cfg.backbone.out_indices = (2, 3)
    backbone = MODELS.build(cfg.backbone)
    backbone.load_state_dict(converted, strict=True)
    backbone.eval()  # mmseg's ResNet.train() returns None
    x = torch.randn(1, 3, 64, 96)  # even sizes: the stem max-pool rounds up (33x49 at layer 1)
    with torch.no_grad():
        want, got = ref(x), backbone(x)
    for w, g in zip(want, got):
        assert w.shape == g.shape
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_caffe_source_model_predicts_as_the_reference(tmp_path):
    """A two-level model of the papers' code (layer5 on layer 3, layer6 on layer 4) becomes a
    segmentor checkpoint: decode head = layer6, auxiliary head = layer5."""
    torch.manual_seed(1)
    ref = CaffeDeepLab(two_level=True).eval()
    src, dst = tmp_path / 'GTA2Cityscapes_multi.pth', tmp_path / 'source_mmseg.pth'
    torch.save(ref.state_dict_without_tracking(), src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/deeplabv2_caffe2mmseg.py',
                           str(src), str(dst)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    model = MODELS.build(caffe_model_cfg(two_level=True))
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        aux_ref, main_ref = ref(x)
        feats = model.extract_feat(x)
        main, aux = model.decode_head(feats), model.auxiliary_head(feats)
    torch.testing.assert_close(main, main_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(aux, aux_ref, rtol=1e-4, atol=1e-5)


def test_caffe_converter_refuses_other_layouts(caffe_converter):
    with pytest.raises(KeyError, match='fc.weight: not a key of the caffe DeepLabV2'):
        caffe_converter.convert_deeplabv2({'conv1.weight': torch.zeros(1), 'fc.weight': torch.zeros(1)})
    with pytest.raises(KeyError, match='no ResNet stem'):
        caffe_converter.convert_deeplabv2({'layer5.conv2d_list.0.weight': torch.zeros(1)})


# --------------------------------------------------------------------------- SegFormer MiT
MIT = dict(embed_dims=8, num_heads=[1, 2, 5, 8], num_layers=[1, 2, 1, 1], sr_ratios=[8, 4, 2, 1],
           patch_sizes=[7, 3, 3, 3])


def segformer_mit_state_dict(seed=0):
    """A MiT state dict in SegFormer's own layout (``mit_b5.pth``: patch_embed{i}, block{i}.{j}
    with separate q / kv projections and an ``mlp.dwconv.dwconv`` conv, norm{i}, ImageNet head)."""
    g = torch.Generator().manual_seed(seed)

    def t(*shape):
        return torch.randn(*shape, generator=g)

    sd, cin = {}, 3
    for i in range(4):
        d, p, sr = MIT['embed_dims'] * MIT['num_heads'][i], MIT['patch_sizes'][i], MIT['sr_ratios'][i]
        s = i + 1
        sd.update({f'patch_embed{s}.proj.weight': t(d, cin, p, p), f'patch_embed{s}.proj.bias': t(d),
                   f'patch_embed{s}.norm.weight': t(d), f'patch_embed{s}.norm.bias': t(d)})
        for j in range(MIT['num_layers'][i]):
            b = f'block{s}.{j}.'
            sd.update({b + 'norm1.weight': t(d), b + 'norm1.bias': t(d),
                       b + 'attn.q.weight': t(d, d), b + 'attn.q.bias': t(d),
                       b + 'attn.kv.weight': t(2 * d, d), b + 'attn.kv.bias': t(2 * d),
                       b + 'attn.proj.weight': t(d, d), b + 'attn.proj.bias': t(d),
                       b + 'norm2.weight': t(d), b + 'norm2.bias': t(d),
                       b + 'mlp.fc1.weight': t(4 * d, d), b + 'mlp.fc1.bias': t(4 * d),
                       b + 'mlp.dwconv.dwconv.weight': t(4 * d, 1, 3, 3),
                       b + 'mlp.dwconv.dwconv.bias': t(4 * d),
                       b + 'mlp.fc2.weight': t(d, 4 * d), b + 'mlp.fc2.bias': t(d)})
            if sr > 1:
                sd.update({b + 'attn.sr.weight': t(d, d, sr, sr), b + 'attn.sr.bias': t(d),
                           b + 'attn.norm.weight': t(d), b + 'attn.norm.bias': t(d)})
        sd.update({f'norm{s}.weight': t(d), f'norm{s}.bias': t(d)})
        cin = d
    sd.update({'head.weight': t(1000, cin), 'head.bias': t(1000)})
    return sd


def test_mit_converter_loads_strictly_into_mmseg_mit(tmp_path):
    src, dst = tmp_path / 'mit_b5.pth', tmp_path / 'pretrained' / 'mit_b5.pth'
    sd = segformer_mit_state_dict()
    torch.save(sd, src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/mit2mmseg.py', str(src),
                           str(dst)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    converted = torch.load(dst, map_location='cpu', weights_only=False)
    backbone_cfg = Config.fromfile(f'{REPO}/configs/_base_/models/daformer_mitb5.py').model.backbone
    backbone_cfg.update(embed_dims=MIT['embed_dims'], num_layers=MIT['num_layers'], init_cfg=None)
    backbone = MODELS.build(backbone_cfg)
    backbone.load_state_dict(converted, strict=True)
    # q and kv projections become one in_proj, in that order; the MLP's linears 1x1 convs.
    attn = backbone.layers[1][1][1].attn.attn
    torch.testing.assert_close(attn.in_proj_weight,
                               torch.cat([sd['block2.1.attn.q.weight'], sd['block2.1.attn.kv.weight']]))
    torch.testing.assert_close(backbone.layers[0][0].projection.weight, sd['patch_embed1.proj.weight'])
    # an already converted file is refused, not mangled
    converter = load_repo_tool('model_converters/mit2mmseg')
    with pytest.raises(KeyError, match='not a SegFormer MiT checkpoint'):
        converter.convert(converted)
