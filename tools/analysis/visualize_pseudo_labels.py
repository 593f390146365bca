"""A visual check of adaptation: overlays for a few target images and a per-class IoU chart.

    python tools/analysis/visualize_pseudo_labels.py CONFIG ADAPTED_CKPT --out-dir vis \
        [--source-checkpoint SOURCE_CKPT] [--num-images 4] [--num-eval 100] [--cfg-options ...]

``CONFIG`` is the adaptation config the checkpoint was trained with (or any config of the same
network); the images are those of its ``test_dataloader`` (target val, with ground truth). For each
of the first ``--num-images`` images it writes ``<out-dir>/<name>.png``: a 2x2 grid of

    image            | pseudo-labels
    ground truth     | prediction of the adapted model

in the dataset's palette (black: ignored / no label), labels blended over the image. Pseudo-labels
are what the adapted model's online pseudo-labeler makes of the image (its teacher, its labeler);
for a model without one (or a labeler that needs dataset statistics, or offline labels read from
files) they are the label network's predictions kept where its confidence reaches
``--threshold``, and the figure title says so.

With ``--source-checkpoint`` (the source-only model the adaptation started from) it also writes
``iou_per_class.png`` and ``iou_per_class.json``: per-class IoU (%) of the source-only and the
adapted model on the first ``--num-eval`` test images (all by default), as grouped bars.
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_checkpoint

IGNORE = 255


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the adapted model')
    parser.add_argument('--source-checkpoint', help='the source-only model, for the IoU chart')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--num-eval', type=int, default=None,
                        help='test images for the IoU chart (default: all)')
    parser.add_argument('--threshold', type=float, default=0.9,
                        help='confidence of fallback pseudo-labels (models without a labeler)')
    parser.add_argument('--alpha', type=float, default=0.5, help='label opacity over the image')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def build_model(cfg, checkpoint):
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    return model.eval()


def colorize(labels, palette):
    """[H, W] class ids -> [H, W, 3] uint8 RGB; ``IGNORE`` (and ids outside the palette) black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut[np.clip(labels, 0, 255).astype(np.uint8)]


def overlay(img_rgb, labels, palette, alpha):
    color = colorize(labels, palette).astype(np.float32)
    out = img_rgb.astype(np.float32) * (1 - alpha) + color * alpha
    out[labels == IGNORE] = img_rgb[labels == IGNORE] * (1 - alpha)
    return out.astype(np.uint8)


def pseudo_labels(model, inputs, data_samples, threshold):
    """([H, W] labels at the input size, how they were made) for a one-image batch."""
    from mmsfda.models.segmentors import BaseAdaptationSegmentor
    from mmsfda.models.segmentors.base_adaptation_segmentor import Branch
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=data_samples), False)
    img, samples = data['inputs'], data['data_samples']
    labeler = getattr(model, 'pseudo_labeler', None)
    with torch.no_grad():
        if isinstance(model, BaseAdaptationSegmentor) and labeler is not None and \
                model.pseudo_labels_from != 'dataset' and not labeler.needs_statistics:
            keep = model.record_pseudo_label_stats
            model.record_pseudo_label_stats = False  # no training diagnostics here
            try:
                pl = model.pseudo_labels(Branch(img, samples))
            finally:
                model.record_pseudo_label_stats = keep
            how = f'pseudo-labels ({type(labeler).__name__})'
            labels = pl.labels[0]
        else:
            if isinstance(model, BaseAdaptationSegmentor):
                probs = model.teacher_probs(img)
            else:
                probs = model.encode_decode(img, [s.metainfo for s in samples]).softmax(1)
            conf, labels = probs[0].max(0)
            labels[conf < threshold] = IGNORE
            how = f'confident predictions (p >= {threshold})'
    h, w = samples[0].metainfo['img_shape']
    return labels[:h, :w].cpu().numpy(), how


def predict(model, batch):
    with torch.no_grad():
        out = model.test_step(batch)[0]
    return out.pred_sem_seg.data[0].cpu().numpy()


def grid(panels, titles):
    """2x2 grid of equally sized RGB panels with a title strip each -> BGR image for cv2."""
    rows = []
    for pair in ((0, 1), (2, 3)):
        cells = []
        for i in pair:
            p = cv2.cvtColor(panels[i], cv2.COLOR_RGB2BGR)
            strip = np.full((22, p.shape[1], 3), 255, np.uint8)
            cv2.putText(strip, titles[i], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
            cells.append(np.concatenate([strip, p], 0))
        rows.append(np.concatenate(cells, 1))
    return np.concatenate(rows, 0)


def iou_chart(ious, classes, out_dir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(classes)), 4))
    x = np.arange(len(classes))
    width = 0.8 / len(ious)
    for k, (name, values) in enumerate(ious.items()):
        ax.bar(x + (k - (len(ious) - 1) / 2) * width, np.nan_to_num(values), width,
               label=f'{name} (mIoU {np.nanmean(values):.1f})')
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=60, ha='right')
    ax.set_ylabel('IoU (%)')
    ax.legend()
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'iou_per_class.png'), dpi=120)
    plt.close(fig)


def per_class_iou(model, loader, num_classes, limit):
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for i, batch in enumerate(loader):
        if limit is not None and i >= limit:
            break
        pred = predict(model, batch)
        gt = batch['data_samples'][0].gt_sem_seg.data[0].numpy()
        valid = gt != IGNORE
        for c in range(num_classes):
            p, g = (pred == c) & valid, (gt == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, 100 * inter / np.maximum(union, 1), np.nan)


def main(argv=None):
    import mmsfda  # noqa: F401  (registers the modules)
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    loader_cfg = dict(cfg.test_dataloader, batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    meta = loader.dataset.metainfo
    classes, palette = meta['classes'], meta['palette']
    os.makedirs(args.out_dir, exist_ok=True)

    adapted = build_model(cfg, args.checkpoint)
    written = []
    for i, batch in enumerate(loader):
        if i >= args.num_images:
            break
        sample = batch['data_samples'][0]
        img = cv2.cvtColor(cv2.imread(sample.img_path), cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        pl, how = pseudo_labels(adapted, batch['inputs'], batch['data_samples'], args.threshold)
        pl = cv2.resize(pl.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        gt = cv2.resize(sample.gt_sem_seg.data[0].numpy().astype(np.uint8), (w, h),
                        interpolation=cv2.INTER_NEAREST)
        pred = cv2.resize(predict(adapted, batch).astype(np.uint8), (w, h),
                          interpolation=cv2.INTER_NEAREST)
        panels = [img, overlay(img, pl, palette, args.alpha), overlay(img, gt, palette, args.alpha),
                  overlay(img, pred, palette, args.alpha)]
        name = osp.splitext(osp.basename(sample.img_path))[0]
        path = osp.join(args.out_dir, f'{name}.png')
        cv2.imwrite(path, grid(panels, ['image', how, 'ground truth', 'adapted prediction']))
        written.append(path)

    if args.source_checkpoint:
        source = build_model(cfg, args.source_checkpoint)
        ious = {'source-only': per_class_iou(source, loader, len(classes), args.num_eval),
                'adapted': per_class_iou(adapted, loader, len(classes), args.num_eval)}
        iou_chart(ious, classes, args.out_dir)
        with open(osp.join(args.out_dir, 'iou_per_class.json'), 'w') as f:
            json.dump({k: {c: (None if np.isnan(v) else round(float(v), 2))
                           for c, v in zip(classes, vals)} for k, vals in ious.items()}, f,
                      indent=1)
    for path in written:
        print(path)
    return written


if __name__ == '__main__':
    main()
