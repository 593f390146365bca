"""Convert caffe-style DeepLabV2 ResNet-101 weights (AdaptSegNet's layout) to mmseg keys.

Two kinds of input share the layout of AdaptSegNet's ``model/deeplab.py`` / ``deeplab_multi.py``
(arXiv:1802.10349), which ADVENT, FDA, Cal-SFDA and DiGA reuse:

- the ImageNet initialisation ``DeepLab_resnet_pretrained_init-f81d91e8.pth``: keys prefixed
  ``Scale.`` (``Scale.conv1.weight``, ``Scale.bn1.running_mean``, ``Scale.layer3.7.conv2.weight``,
  ``Scale.layer5.conv2d_list.3.weight`` ...). Convert it with ``--backbone-only``: its classifier
  (``layer5``) is for another label set and is dropped, as the papers' code does; the result is
  what ``configs/_base_/models/deeplabv2_r101_caffe.py`` loads as ``pretrained://
  deeplabv2_resnet101_caffe_imagenet.pth`` (see ``docs/pretrained.md``).
- a segmentation model trained by that code (e.g. a published GTA5 source model): the same keys
  without ``Scale.``, with the ASPP classifier ``layer5`` on layer 4, or, for the two-level
  ``deeplab_multi`` model, ``layer5`` on layer 3 (auxiliary) and ``layer6`` on layer 4 (main).
  Without ``--backbone-only`` the output is a full mmseg checkpoint (``backbone.*``,
  ``decode_head.aspp.*``, ``auxiliary_head.aspp.*``) for ``load_from`` of a config built on
  ``deeplabv2_r101_caffe.py`` (the two-level one: AdaptSegNet's configs).

Key mapping (the backbone names already agree with mmseg's ``ResNet``): ``conv1``/``bn1`` of the
stem and ``layer{1-4}.{i}.conv{1-3}/bn{1-3}/downsample.{0,1}`` keep their names under
``backbone.``; ``layer5.conv2d_list.{j}`` / ``layer6.conv2d_list.{j}`` become
``{decode,auxiliary}_head.aspp.{j}``. BN ``num_batches_tracked`` buffers, absent from these old
files, are added as zeros so the result loads with ``strict=True``.

Usage:
    python tools/model_converters/deeplabv2_caffe2mmseg.py SRC DST [--backbone-only]
"""
import argparse
import os
import os.path as osp
import re
from collections import OrderedDict

import torch

_BACKBONE = re.compile(r'^(conv1|bn1|layer[1-4])\.')
_CLASSIFIER = re.compile(r'^layer([56])\.conv2d_list\.(\d+)\.(weight|bias)$')
_BN = re.compile(r'^(.*\.)?(bn\d|downsample\.1)\.running_var$')


def _strip(key: str) -> str:
    for prefix in ('module.', 'Scale.'):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def convert_deeplabv2(state_dict, backbone_only=False):
    """Map AdaptSegNet-layout keys to mmseg's.

    Args:
        state_dict (Mapping[str, Tensor]): The source weights (``Scale.``/``module.`` prefixes
            allowed).
        backbone_only (bool): Keep only the ResNet, with keys relative to the backbone (for a
            ``Pretrained`` ``init_cfg``); otherwise keys of a whole segmentor.

    Returns:
        OrderedDict[str, Tensor]: The converted weights.

    Raises:
        KeyError: naming a key that belongs to neither the ResNet nor a classifier, and when the
            input holds no ResNet key at all (another layout).
    """
    keys = {_strip(k): v for k, v in state_dict.items()}
    two_level = any(k.startswith('layer6.') for k in keys)
    heads = {'6': 'decode_head', '5': 'auxiliary_head'} if two_level else {'5': 'decode_head'}
    out = OrderedDict()
    for key, value in keys.items():
        if _BACKBONE.match(key):
            out[key if backbone_only else f'backbone.{key}'] = value
            match = _BN.match(key)
            if match and key.replace('running_var', 'num_batches_tracked') not in keys:
                tracked = key.replace('running_var', 'num_batches_tracked')
                out[tracked if backbone_only else f'backbone.{tracked}'] = torch.tensor(0)
            continue
        match = _CLASSIFIER.match(key)
        if match is None:
            raise KeyError(f'{key}: not a key of the caffe DeepLabV2 ResNet-101 layout (conv1, '
                           'bn1, layer1-4, layer5/6.conv2d_list)')
        if not backbone_only:
            level, branch, kind = match.groups()
            out[f'{heads[level]}.aspp.{branch}.{kind}'] = value
    if not any(k.startswith(('conv1.', 'backbone.conv1.')) for k in out):
        raise KeyError('no ResNet stem (conv1.weight / Scale.conv1.weight) in the input: not the '
                       'caffe DeepLabV2 layout')
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='source checkpoint (AdaptSegNet layout)')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--backbone-only', action='store_true',
                        help='keep the ResNet only, keys relative to it (ImageNet initialisation)')
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        ckpt = ckpt['state_dict']
    elif isinstance(ckpt, dict) and isinstance(ckpt.get('model'), dict):
        ckpt = ckpt['model']
    weights = convert_deeplabv2(ckpt, backbone_only=args.backbone_only)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    meta = dict(converted_from=osp.basename(args.src), converter='deeplabv2_caffe2mmseg')
    torch.save(weights if args.backbone_only else dict(state_dict=weights, meta=meta), args.dst)
    print(f'{len(weights)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
