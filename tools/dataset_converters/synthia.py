"""Convert SYNTHIA-RAND-CITYSCAPES labels to Cityscapes train ids and write the RCS statistics.

    python tools/dataset_converters/synthia.py data/synthia --nproc 8 [--num-classes 16]

Reads ``data/synthia/GT/LABELS/NNNNNNN.png`` (16-bit 3-channel PNGs, SYNTHIA class id in the R
channel) and writes ``NNNNNNN_labelTrainIds.png`` beside each: 19-class Cityscapes train ids
(terrain, truck and train never occur), every other id 255. ``sample_class_stats.json`` and
``samples_with_class.json`` go to ``data/synthia`` (or ``--out-dir``), in 19-class ids, naming
files relative to ``data/synthia`` (``GT/LABELS/NNNNNNN_labelTrainIds.png``).

16-class convention: there is no second label file. ``Synthia16Dataset`` and
``Cityscapes16Dataset`` remap the 19-class files at load time (mmseg ``label_map``).
``--num-classes 16`` additionally writes the statistics in 16-class ids to
``<out-dir>/class_stats16/`` for rare class sampling with a 16-way head (16-class ids differ from
19-class ids from sky on, so the two must not be mixed): with ``DomainPairDataset`` set
``rare_class_sampling=dict(stats_file='data/synthia/class_stats16/sample_class_stats.json')``.
"""
import argparse
import os.path as osp

import cv2
import numpy as np
from train_id_conversion import add_conversion_options, convert_dataset, find_pairs

from mmsfda.datasets.synthia import CITYSCAPES_CLASSES, SYNTHIA16_CLASSES

#: SYNTHIA class id -> 19-class Cityscapes train id (as DAFormer's converter: 16, 18 and 20 are the
#: SYNTHIA ids of terrain, truck and train, which SYNTHIA-RAND-CITYSCAPES does not contain).
SYNTHIA_ID_TO_TRAIN_ID = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9,
    1: 10, 10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}
STATS16_DIR = 'class_stats16'


def train_id_to_16() -> np.ndarray:
    """Lookup table 19-class train id -> 16-class train id (terrain, truck, train, 255 -> 255)."""
    lut = np.full(256, 255, dtype=np.uint8)
    for i, name in enumerate(CITYSCAPES_CLASSES):
        if name in SYNTHIA16_CLASSES:
            lut[i] = SYNTHIA16_CLASSES.index(name)
    return lut


def read_synthia_label(path: str) -> np.ndarray:
    """The SYNTHIA class ids (R channel) of a 16-bit label PNG, uint16 [H, W]."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'SYNTHIA label {path} does not exist')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'cannot read SYNTHIA label {path} (truncated or not an image)')
    if label.dtype != np.uint16 or label.ndim != 3 or label.shape[2] not in (3, 4):
        shape = 'x'.join(map(str, label.shape))
        raise ValueError(
            f'SYNTHIA label {path} is a {label.dtype} image of shape {shape}: SYNTHIA labels must '
            'be 16-bit PNGs with the class id in the R channel (the GT/LABELS files of '
            'SYNTHIA-RAND-CITYSCAPES, not GT/COLOR or a re-saved 8-bit copy)')
    return label[..., 2]  # cv2 reads BGR(A): R is channel 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert SYNTHIA labels to Cityscapes train ids')
    parser.add_argument('synthia_path', help='SYNTHIA-RAND-CITYSCAPES root, holding RGB/ and GT/')
    parser.add_argument('--img-dir', default='RGB', help='image folder under synthia_path')
    parser.add_argument('--gt-dir', default='GT/LABELS', help='label folder under synthia_path')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: synthia_path)')
    parser.add_argument(
        '--num-classes',
        type=int,
        default=19,
        choices=(19, 16),
        help=f'16: also write 16-class statistics to <out-dir>/{STATS16_DIR}/')
    add_conversion_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pairs = find_pairs(
        osp.join(args.synthia_path, args.img_dir), osp.join(args.synthia_path, args.gt_dir),
        'SYNTHIA')
    extra = {STATS16_DIR: (train_id_to_16(), 16)} if args.num_classes == 16 else None
    return convert_dataset(
        pairs,
        read_synthia_label,
        SYNTHIA_ID_TO_TRAIN_ID,
        args.synthia_path,
        args.out_dir or args.synthia_path,
        nproc=args.nproc,
        overwrite=args.overwrite,
        extra_stats=extra)


if __name__ == '__main__':
    main()
