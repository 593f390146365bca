"""Browse a dataset as training sees it, source/target pairs side by side, in palette colours.

    python tools/analysis/browse_dataset.py CONFIG --out-dir browse [--split train] [--num 8]
        [--alpha 0.5] [--seed 0] [--cfg-options ...]

mmseg's ``analysis_tools/browse_dataset.py`` reads ``item['inputs']`` of a plain dataset; the
``DomainPairDataset`` of our UDA configs yields ``{'source': item, 'target': item}`` pairs, and
mmseg's tool does not import mmsfda, so it finds neither our datasets nor the pairs. This one
builds ``<split>_dataloader.dataset`` of CONFIG (after its train pipeline: crops, flips and
photometric transforms are shown as applied) and writes, for each of the first ``--num`` items,
``<out-dir>/<NNNN>_<target image name>.png``: one row of panels

    source image | source label | target image | target label (if the pipeline loads one)

(target-only pairs: the target panels; a plain dataset: image | label), each label blended over
its image in the dataset's palette (black: ignore index 255, or no label). A pair's target is drawn
at random by the dataset: ``--seed`` fixes the draw.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmsfda.utils.repo_tools import load_repo_tool  # noqa: E402

# The palette overlay of the pseudo-label figures, so both tools colour labels the same way.
vis = load_repo_tool('analysis/visualize_pseudo_labels')

TITLE_H = 22


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', choices=('train', 'val', 'test'), default='train',
                        help='which <split>_dataloader.dataset to browse')
    parser.add_argument('--num', type=int, default=8, help='items to write')
    parser.add_argument('--alpha', type=float, default=0.5, help='label opacity over the image')
    parser.add_argument('--seed', type=int, default=0, help='seeds the random target draw')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def domain_items(item):
    """``[(domain name, packed item)]`` of a dataset item: source and target of a pair (in that
    order, those present), or ``[('', item)]`` for a plain dataset's item."""
    if isinstance(item, dict) and ('source' in item or 'target' in item):
        return [(d, item[d]) for d in ('source', 'target') if d in item]
    return [('', item)]


def panels_of(packed, palette, alpha):
    """(image, label overlay or ``None``) RGB panels of one packed item.

    ``packed['inputs']``: [3, H, W] uint8 BGR tensor (mmseg's ``PackSegInputs``);
    ``packed['data_samples'].gt_sem_seg``: [1, H, W] class ids when the pipeline loads labels.
    """
    img = packed['inputs'].permute(1, 2, 0).numpy()[..., ::-1].astype(np.uint8)  # BGR -> RGB
    sample = packed['data_samples']
    if 'gt_sem_seg' not in sample:
        return img, None
    labels = sample.gt_sem_seg.data[0].numpy()
    return img, vis.overlay(img, labels, palette, alpha)


def titled(panel, title):
    strip = np.full((TITLE_H, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return np.concatenate([strip, panel], 0)


def row(item, palette, alpha):
    """One RGB row of titled panels for a dataset item; panels of unequal height are padded."""
    cells = []
    for domain, packed in domain_items(item):
        img, label = panels_of(packed, palette, alpha)
        name = f'{domain} ' if domain else ''
        cells.append(titled(img, f'{name}image'))
        cells.append(titled(label if label is not None else np.zeros_like(img),
                            f'{name}label' if label is not None else f'{name}label: none'))
    height = max(c.shape[0] for c in cells)
    cells = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255)
             for c in cells]
    return np.concatenate(cells, 1)


def item_name(item):
    """File name stem of an item: its target's image (a plain item's image)."""
    packed = domain_items(item)[-1][1]
    return osp.splitext(osp.basename(packed['data_samples'].img_path))[0]


def main(argv=None):
    args = parse_args(argv)
    import mmsfda  # noqa: F401  (registers our datasets and transforms)
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    np.random.seed(args.seed)
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    palette = dataset.metainfo['palette']
    os.makedirs(args.out_dir, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        item = dataset[i]
        out = osp.join(args.out_dir, f'{i:04d}_{item_name(item)}.png')
        cv2.imwrite(out, cv2.cvtColor(row(item, palette, args.alpha), cv2.COLOR_RGB2BGR))
        print(out, flush=True)


if __name__ == '__main__':
    main()
