"""Convert SegFormer's MiT ImageNet weights (e.g. ``mit_b5.pth``) to mmseg's MixVisionTransformer.

mmseg ships the conversion (``tools/model_converters/mit2mmseg.py`` of mmsegmentation 1.2.2,
installed under ``mmseg/.mim/tools``); this wrapper runs mmseg's own ``convert_mit`` on the file
and writes the result where the model bases look for it (``pretrained://mit_b5.pth``, see
``docs/pretrained.md``), after checking that the input has SegFormer's layout (``patch_embed1``,
``block1``, ``norm1`` ...; an already converted file is refused rather than mangled).

Usage:
    python tools/model_converters/mit2mmseg.py mit_b5.pth pretrained/mit_b5.pth
"""
import argparse
import os
import os.path as osp
import runpy

import torch

from mmsfda.utils import mmseg_tool_path


def mmseg_convert_mit():
    """mmseg's ``convert_mit(state_dict) -> OrderedDict`` from its installed tool."""
    return runpy.run_path(mmseg_tool_path('model_converters/mit2mmseg.py'),
                          run_name='mmseg_mit2mmseg')['convert_mit']


def convert(state_dict):
    """SegFormer keys -> mmseg keys (through mmseg's ``convert_mit``).

    Raises:
        KeyError: when the input is not in SegFormer's layout (e.g. already converted).
    """
    if not any(k.startswith('patch_embed1.') for k in state_dict):
        raise KeyError('no patch_embed1.* key: not a SegFormer MiT checkpoint (already converted '
                       'files start with layers.0.0.*)')
    return mmseg_convert_mit()(state_dict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help="SegFormer's checkpoint, e.g. mit_b5.pth")
    parser.add_argument('dst', help='output path, e.g. pretrained/mit_b5.pth')
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    weights = convert(ckpt)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(weights, args.dst)
    print(f'{len(weights)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
