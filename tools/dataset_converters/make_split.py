"""Split a source dataset into train and val lists (for source-side model selection).

    python tools/dataset_converters/make_split.py data/gta --img-dir images --suffix .png \
        --num-val 500 --seed 0

Cal-SFDA selects its source checkpoint on a source validation split (``gta5_val.txt``, not in the
public repository; arXiv:2308.03003). This writes ``<root>/splits/train.txt`` and
``<root>/splits/val.txt``: the image names without suffix, one per line, relative to ``--img-dir``,
as mmseg's ``ann_file`` expects. The split is a seeded random draw, so it is reproducible; existing
files are not overwritten unless ``--overwrite``.
"""
import argparse
import os
import os.path as osp
import random
import sys
from typing import List, Tuple


def list_images(img_dir: str, suffix: str) -> List[str]:
    """Names (relative to ``img_dir``, without ``suffix``) of the images under ``img_dir``."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder {img_dir} does not exist')
    names = []
    for root, _, files in os.walk(img_dir):
        for f in files:
            if f.endswith(suffix):
                names.append(osp.relpath(osp.join(root, f), img_dir)[:-len(suffix)])
    if not names:
        raise ValueError(f'no *{suffix} image under {img_dir}')
    return sorted(names)


def split(names: List[str], num_val: int, seed: int) -> Tuple[List[str], List[str]]:
    """Seeded random ``(train, val)`` split with ``num_val`` val names, each sorted."""
    if not 0 < num_val < len(names):
        raise ValueError(f'--num-val must be in [1, {len(names) - 1}] for {len(names)} images, '
                         f'got {num_val}')
    shuffled = list(names)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[num_val:]), sorted(shuffled[:num_val])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='dataset root, e.g. data/gta')
    parser.add_argument('--img-dir', default='images', help='image folder relative to root')
    parser.add_argument('--suffix', default='.png', help='image suffix')
    parser.add_argument('--num-val', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default=None, help='default: <root>/splits')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    out_dir = args.out_dir or osp.join(args.root, 'splits')
    paths = [osp.join(out_dir, f'{s}.txt') for s in ('train', 'val')]
    if any(osp.exists(p) for p in paths) and not args.overwrite:
        sys.exit(f'{out_dir} already holds a split; pass --overwrite to replace it')
    train, val = split(list_images(osp.join(args.root, args.img_dir), args.suffix),
                       args.num_val, args.seed)
    os.makedirs(out_dir, exist_ok=True)
    for path, names in zip(paths, (train, val)):
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.write('\n'.join(names) + '\n')
        os.replace(tmp, path)
    print(f'{len(train)} train and {len(val)} val images: {paths[0]}, {paths[1]}')


if __name__ == '__main__':
    main()
