"""Write ACDC's ``*_gt_labelTrainIds.png`` from its ``*_gt_labelIds.png`` where they are missing.

    python tools/dataset_converters/acdc.py data/acdc --nproc 8

ACDC's ``gt_trainval.zip`` ships both label files, so a complete download needs nothing: every
existing ``*_gt_labelTrainIds.png`` is kept (read back for the statistics) unless ``--overwrite``.
A copy that holds only the label ids (``*_gt_labelIds.png``, Cityscapes label ids 0-33) gets the 19
Cityscapes train ids (every other id 255) beside each, under

    data/acdc/gt/<condition>/<split>/<sequence>/<name>_gt_labelIds.png
    data/acdc/rgb_anon/<condition>/<split>/<sequence>/<name>_rgb_anon.png    # must exist

for each ``--conditions`` and ``--splits`` (default: all four conditions, train and val; ACDC has no
public test labels). The class statistics (``sample_class_stats.json``, ``samples_with_class.json``,
:func:`mmsfda.datasets.class_stats.write_class_stats`) go to ``data/acdc`` or ``--out-dir``, naming
files relative to ``data/acdc``.
"""
import argparse
import os
import os.path as osp
from typing import List, Sequence

import numpy as np
from gta import CITYSCAPES_ID_TO_TRAIN_ID
from train_id_conversion import add_conversion_options, convert_dataset, read_8bit_label

CONDITIONS = ('fog', 'night', 'rain', 'snow')
IMG_SUFFIX = '_rgb_anon.png'
LABEL_SUFFIX = '_gt_labelIds.png'


def read_acdc_label(path: str) -> np.ndarray:
    """The Cityscapes label ids of an ACDC ``*_gt_labelIds.png``, uint8 [H, W]."""
    return read_8bit_label(path, 'ACDC', '*_gt_labelIds.png must be 8-bit grey (L) PNGs of '
                           'Cityscapes label ids')


def find_acdc_pairs(root: str, conditions: Sequence[str], splits: Sequence[str],
                    img_dir: str = 'rgb_anon', gt_dir: str = 'gt') -> List[tuple]:
    """``(image, *_gt_labelIds.png)`` pairs of the chosen conditions and splits, sorted.

    Raises:
        FileNotFoundError: a condition/split folder, or the image of a label, is missing (named).
    """
    pairs = []
    for condition in conditions:
        for split in splits:
            labels = osp.join(root, gt_dir, condition, split)
            images = osp.join(root, img_dir, condition, split)
            for folder in (labels, images):
                if not osp.isdir(folder):
                    raise FileNotFoundError(
                        f'ACDC: folder {folder} does not exist (rgb_anon_trainvaltest.zip and '
                        'gt_trainval.zip from https://acdc.vision.ee.ethz.ch, unzipped into '
                        f'{root}; docs/datasets.md)')
            found = sorted(osp.relpath(osp.join(d, f), labels)
                           for d, _, files in os.walk(labels) for f in files
                           if f.endswith(LABEL_SUFFIX) and not f.startswith('.'))
            if not found:
                raise FileNotFoundError(f'ACDC: no *{LABEL_SUFFIX} under {labels}')
            for rel in found:
                img = osp.join(images, rel[:-len(LABEL_SUFFIX)] + IMG_SUFFIX)
                if not osp.isfile(img):
                    raise FileNotFoundError(f'ACDC: {osp.join(labels, rel)} has no image: {img} '
                                            'is missing')
                pairs.append((img, osp.join(labels, rel)))
    return pairs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('acdc_path', help='ACDC root, holding rgb_anon/ and gt/')
    parser.add_argument('--conditions', nargs='+', default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        help='split folders with labels (ACDC publishes train and val labels)')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: acdc_path)')
    add_conversion_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pairs = find_acdc_pairs(args.acdc_path, args.conditions, args.splits)
    return convert_dataset(
        pairs,
        read_acdc_label,
        CITYSCAPES_ID_TO_TRAIN_ID,
        args.acdc_path,
        args.out_dir or args.acdc_path,
        nproc=args.nproc,
        overwrite=args.overwrite,
        raw_suffix='_labelIds.png')


if __name__ == '__main__':
    main()
