"""Convert GTA5 labels to the 19 Cityscapes train ids and write the rare-class-sampling statistics.

    python tools/dataset_converters/gta.py data/gta --nproc 8

Reads ``data/gta/labels/NNNNN.png`` (palettised or 8-bit grey PNGs of Cityscapes label ids 0-33) and
writes ``data/gta/labels/NNNNN_labelTrainIds.png`` beside each (train ids 0-18, every other id 255),
then ``sample_class_stats.json`` and ``samples_with_class.json``
(:func:`mmsfda.datasets.class_stats.write_class_stats`) in ``data/gta`` or ``--out-dir``, naming
files relative to ``data/gta`` (``labels/NNNNN_labelTrainIds.png``).
Every label must have an image ``data/gta/images/NNNNN.png`` and vice versa. Labels converted by an
earlier (possibly killed) run are kept unless ``--overwrite``.
"""
import argparse
import os.path as osp

import numpy as np
from train_id_conversion import (add_conversion_options, convert_dataset, find_pairs,
                                 read_8bit_label)

#: Cityscapes label id -> train id (labelTrainIds); GTA5 uses the Cityscapes label ids.
CITYSCAPES_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}


def read_gta_label(path: str) -> np.ndarray:
    """The label ids of a GTA5 label PNG, uint8 [H, W] (palette indices of a palettised PNG)."""
    return read_8bit_label(path, 'GTA5', 'GTA5 labels must be palettised (P) or 8-bit grey (L) '
                           'PNGs of Cityscapes label ids')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert GTA5 labels to Cityscapes train ids')
    parser.add_argument('gta_path', help='GTA5 root, holding images/ and labels/')
    parser.add_argument('--img-dir', default='images', help='image folder under gta_path')
    parser.add_argument('--gt-dir', default='labels', help='label folder under gta_path')
    parser.add_argument('-o', '--out-dir', help='where the statistics go (default: gta_path)')
    add_conversion_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pairs = find_pairs(
        osp.join(args.gta_path, args.img_dir), osp.join(args.gta_path, args.gt_dir), 'GTA5')
    return convert_dataset(
        pairs,
        read_gta_label,
        CITYSCAPES_ID_TO_TRAIN_ID,
        args.gta_path,
        args.out_dir or args.gta_path,
        nproc=args.nproc,
        overwrite=args.overwrite)


if __name__ == '__main__':
    main()
