"""Offline ImageNet initialisations: the ``pretrained://<file>`` checkpoint scheme.

The model bases initialise their backbones with ``init_cfg=dict(type='Pretrained',
checkpoint='pretrained://<file>')``. The file is looked up, in this order, in

1. ``$MMSFDA_PRETRAINED_DIR`` (if set),
2. ``./pretrained`` (relative to the working directory),
3. ``<repository root>/pretrained`` (next to ``configs/`` of a source checkout).

Nothing is downloaded: a missing file raises a ``FileNotFoundError`` that names every place looked
at, where the original weights come from and the converter command that writes the file
(:data:`PRETRAINED`; ``docs/pretrained.md`` has the same table).
"""
import os
import os.path as osp
from typing import Dict, List

from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['PRETRAINED', 'SCHEME', 'pretrained_dirs', 'resolve_pretrained']

SCHEME = 'pretrained://'

#: The initialisations the model bases name: file -> (what it is, where the original comes from,
#: how to make the file). ``{dst}`` stands for the destination path.
PRETRAINED: Dict[str, Dict[str, str]] = {
    'deeplabv2_resnet101_caffe_imagenet.pth': dict(
        what='caffe-style ResNet-101 ImageNet initialisation of DeepLabV2 (the '
             'DeepLab_resnet_pretrained_init-f81d91e8.pth of AdaptSegNet / ADVENT / Cal-SFDA / '
             'DiGA), backbone keys only',
        source='http://vllab.ucmerced.edu/ytsai/CVPR18/DeepLab_resnet_pretrained_init-f81d91e8.pth',
        command='python tools/model_converters/deeplabv2_caffe2mmseg.py '
                'DeepLab_resnet_pretrained_init-f81d91e8.pth {dst} --backbone-only'),
    'resnet101_torchvision_imagenet.pth': dict(
        what="torchvision's ResNet-101 ImageNet weights (pytorch-style ResNet; the keys are "
             "already mmseg's)",
        source='https://download.pytorch.org/models/resnet101-63fe2227.pth',
        command='cp resnet101-63fe2227.pth {dst}'),
    'mit_b5.pth': dict(
        what="SegFormer's MiT-B5 ImageNet-1k weights (DAFormer / MIC / HRDA / ATP / T2S-DA)",
        source='mit_b5.pth of https://github.com/NVlabs/SegFormer (ImageNet-1k pretrained '
               'encoders, linked from its README)',
        command='python tools/model_converters/mit2mmseg.py mit_b5.pth {dst}'),
    # The style augmentation of T2S-DA's DG view (StyleAugmentor): the published files, unchanged
    # (the module takes their key names).
    'styleaug_checkpoint_transformer.pth': dict(
        what="the style-transfer network (Ghiasi et al.) of Jackson et al.'s style augmentation, "
             "trained weights (T2S-DA's DG view, StyleAugmentor)",
        source='styleaug/checkpoints/checkpoint_transformer.pth of '
               'https://github.com/philipjackson/style-augmentation (also used by '
               'https://github.com/Haochen-Wang409/StypeTransfer, the T2S-DA authors\' copy)',
        command='cp checkpoint_transformer.pth {dst}'),
    'styleaug_checkpoint_stylepredictor.pth': dict(
        what="the Inception-v3 style predictor of Jackson et al.'s style augmentation (T2S-DA's "
             "DG view, StyleAugmentor)",
        source='styleaug/checkpoints/checkpoint_stylepredictor.pth of '
               'https://github.com/philipjackson/style-augmentation',
        command='cp checkpoint_stylepredictor.pth {dst}'),
    'styleaug_checkpoint_embeddings.pth': dict(
        what='the mean and covariance of the Painter-by-Numbers style embeddings and the mean '
             "ImageNet embedding of Jackson et al.'s style augmentation (T2S-DA's DG view, "
             'StyleAugmentor)',
        source='styleaug/checkpoints/checkpoint_embeddings.pth of '
               'https://github.com/philipjackson/style-augmentation',
        command='cp checkpoint_embeddings.pth {dst}'),
}


def _repo_root() -> str:
    return osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def pretrained_dirs() -> List[str]:
    """The folders searched for ``pretrained://`` files, in order."""
    dirs = []
    if os.environ.get('MMSFDA_PRETRAINED_DIR'):
        dirs.append(osp.abspath(osp.expanduser(os.environ['MMSFDA_PRETRAINED_DIR'])))
    dirs.append(osp.abspath('pretrained'))
    root = _repo_root()
    if osp.isdir(osp.join(root, 'configs')):
        dirs.append(osp.join(root, 'pretrained'))
    return list(dict.fromkeys(dirs))  # unique, in order


def resolve_pretrained(name: str) -> str:
    """Local path of ``pretrained://<name>`` (``name`` with or without the scheme).

    Raises:
        FileNotFoundError: naming the folders searched, the original weights and the converter
            command, when no folder holds the file.
    """
    if name.startswith(SCHEME):
        name = name[len(SCHEME):]
    dirs = pretrained_dirs()
    for d in dirs:
        path = osp.join(d, name)
        if osp.isfile(path):
            return path
    info = PRETRAINED.get(name)
    dst = osp.join(dirs[0], name)
    how = (f'\nIt is {info["what"]}.\nGet the original from {info["source"]}\nand write the file '
           f'with:\n  {info["command"].format(dst=dst)}' if info else
           f'\n{name} is not one of the known initialisations ({", ".join(sorted(PRETRAINED))}); '
           'put your own file there under that name.')
    raise FileNotFoundError(
        f'pretrained weights {SCHEME}{name} not found; looked for {name} in: ' + ', '.join(dirs) +
        ' (set MMSFDA_PRETRAINED_DIR to use another folder).' + how +
        '\nSee docs/pretrained.md. Adaptation runs started from a source checkpoint (load_from) '
        'that holds the whole backbone do not need this file.')


@CheckpointLoader.register_scheme(prefixes=SCHEME)
def load_from_pretrained_dir(filename, map_location=None):
    """mmengine checkpoint loader of the ``pretrained://`` scheme (see the module docstring)."""
    return CheckpointLoader.load_checkpoint(resolve_pretrained(filename), map_location=map_location)
