"""Per-class cross-domain feature similarity of segmentation models (T2S-DA's Figure-1 diagnostic).

For each model and class c: the mean of the student's features over the source pixels labelled c
and over the target pixels labelled c (ground truth of the val splits, at feature resolution,
nearest-neighbour), and the cosine of the two means. T2S-DA (arXiv:2305.13752, Fig. 1) argues that
a source-only model's low-IoU target classes are the ones whose source and target features are
least similar; the table therefore also gives each class's target IoU (from the same pass) and the
Spearman correlation between similarity and IoU over the classes.

Features: the decode head's fused feature (``_forward_feature``, DAFormer/ASPP heads) when it has
one, else the last backbone level. Models: a config and a checkpoint each; an adaptation checkpoint
(student/teacher/aux keys) is read as its student, a plain mmseg checkpoint as it is.

    python tools/analysis/feature_similarity.py \
        --model source-only CONFIG CKPT --model T2S-DA CONFIG CKPT \
        [--data data/toy] [--split val] [--out work_dirs/feature_similarity]

Data: the toy benchmark layout (``<data>/{source,target}/images/<split>``,
``labels/<split>``, ``tools/make_toy_data.py``). Writes ``<out>.md`` (table), ``<out>.json`` and
``<out>.png`` (one bar group per class, one bar per model).
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)


def load_student(config: str, checkpoint: str):
    """The student network of ``config`` with the weights of ``checkpoint`` (eval mode)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmsfda  # noqa: F401
    from mmsfda.models.segmentors import plain_state_dict
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    net_cfg = cfg.model.student if 'student' in cfg.model else cfg.model
    if 'backbone' in net_cfg and net_cfg.backbone.get('init_cfg'):
        net_cfg.backbone.init_cfg = None  # the checkpoint has the weights
    net = MODELS.build(net_cfg)
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state = plain_state_dict(state.get('state_dict', state), 'student')
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'{checkpoint} does not fit the network of {config}: missing '
                         f'{missing[:5]}, unexpected {unexpected[:5]}')
    return net.eval()


def features(net, img):
    """[B, D, h, w] student features and [B, C, H, W] logits at the input resolution."""
    from mmseg.models.utils import resize
    feats = net.extract_feat(img)
    head = net.decode_head
    if callable(getattr(head, '_forward_feature', None)):
        fused = head._forward_feature(feats)
        logits = head.cls_seg(fused)
    else:
        fused, logits = feats[-1], head(feats)
    return fused, resize(logits, size=img.shape[2:], mode='bilinear',
                         align_corners=net.align_corners)


def class_statistics(net, data_root: str, split: str, num_classes: int):
    """Per-class feature sums [C, D] and counts [C], and IoU counts (inter, union) [C]."""
    import torch
    import torch.nn.functional as F
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dict(
        type='ToyCityDataset', data_root=data_root,
        data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'labels/{split}'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
    sums = counts = None
    inter = torch.zeros(num_classes)
    union = torch.zeros(num_classes)
    with torch.no_grad():
        for start in range(0, len(dataset), 8):
            data = pseudo_collate([dataset[i] for i in range(start, min(start + 8, len(dataset)))])
            data = net.data_preprocessor(data, False)
            feats, logits = features(net, data['inputs'])
            labels = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']]).long()
            small = F.interpolate(labels[:, None].float(), size=feats.shape[2:],
                                  mode='nearest')[:, 0].long().flatten()
            flat = feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
            keep = (small >= 0) & (small < num_classes)
            if sums is None:
                sums = torch.zeros(num_classes, flat.shape[1])
                counts = torch.zeros(num_classes)
            sums.index_add_(0, small[keep], flat[keep])
            counts += torch.bincount(small[keep], minlength=num_classes)
            pred = logits.argmax(1).flatten()
            gt = labels.flatten()
            valid = (gt >= 0) & (gt < num_classes)
            pred, gt = pred[valid], gt[valid]
            i = torch.bincount(gt[pred == gt], minlength=num_classes).float()
            inter += i
            union += torch.bincount(gt, minlength=num_classes) + torch.bincount(
                pred, minlength=num_classes) - i
    return sums, counts, inter, union


def similarity(net, data: str, split: str, num_classes: int) -> dict:
    """Per class: cosine(source mean, target mean) (None where a domain lacks the class) and the
    target IoU (%)."""
    import torch.nn.functional as F
    s_sum, s_n, _, _ = class_statistics(net, f'{data}/source', split, num_classes)
    t_sum, t_n, inter, union = class_statistics(net, f'{data}/target', split, num_classes)
    cos = F.cosine_similarity(s_sum / s_n.clamp(min=1)[:, None],
                              t_sum / t_n.clamp(min=1)[:, None], dim=1)
    both = (s_n > 0) & (t_n > 0)
    return dict(similarity=[float(c) if b else None for c, b in zip(cos, both)],
                target_iou=[100 * float(i / u) if u > 0 else None for i, u in zip(inter, union)])


def spearman(x, y):
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if len(pairs) < 3:
        return None
    rx = np.argsort(np.argsort([p[0] for p in pairs]))
    ry = np.argsort(np.argsort([p[1] for p in pairs]))
    return float(np.corrcoef(rx, ry)[0, 1])


def write(results: dict, classes, out: str) -> str:
    names = list(results)
    head = '| class | ' + ' | '.join(f'{n}: similarity | {n}: target IoU' for n in names) + ' |'
    lines = [head, '| --- |' + ' --- | --- |' * len(names)]

    def cell(v, digits):
        return '-' if v is None else f'{v:.{digits}f}'
    for c, name in enumerate(classes):
        lines.append(f'| {name} | ' + ' | '.join(
            f'{cell(results[n]["similarity"][c], 3)} | {cell(results[n]["target_iou"][c], 1)}'
            for n in names) + ' |')
    lines.append('| mean | ' + ' | '.join(
        f'{cell(np.mean([v for v in results[n]["similarity"] if v is not None]), 3)} | '
        f'{cell(np.mean([v for v in results[n]["target_iou"] if v is not None]), 1)}'
        for n in names) + ' |')
    lines.append('')
    lines.append('Spearman correlation over classes between similarity and target IoU: ' + ', '.join(
        f'{n}: {cell(results[n]["spearman"], 2)}' for n in names))
    text = '\n'.join(lines)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out + '.md', 'w') as f:
        f.write(text + '\n')
    with open(out + '.json', 'w') as f:
        json.dump(dict(classes=list(classes), models=results), f, indent=1)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, len(classes) * 0.9), 3.5))
    width = 0.8 / len(names)
    for k, n in enumerate(names):
        vals = [np.nan if v is None else v for v in results[n]['similarity']]
        ax.bar(np.arange(len(classes)) + (k - (len(names) - 1) / 2) * width, vals, width, label=n)
    ax.set_xticks(np.arange(len(classes)), classes, rotation=45, ha='right')
    ax.set_ylabel('cosine(source mean, target mean)')
    ax.set_title('per-class cross-domain feature similarity (student features)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out + '.png', dpi=120)
    plt.close(fig)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', nargs=3, action='append', required=True,
                   metavar=('NAME', 'CONFIG', 'CHECKPOINT'))
    p.add_argument('--data', default='data/toy', help='toy-layout root with source/ and target/')
    p.add_argument('--split', default='val')
    p.add_argument('--out', default='work_dirs/feature_similarity', help='output prefix')
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    results, classes = {}, None
    for name, config, ckpt in args.model:
        net = load_student(config, ckpt)
        num_classes = net.decode_head.num_classes
        if classes is None:
            from mmseg.registry import DATASETS
            classes = DATASETS.get('ToyCityDataset').METAINFO['classes'][:num_classes]
        results[name] = similarity(net, args.data, args.split, num_classes)
        results[name]['spearman'] = spearman(results[name]['similarity'],
                                             results[name]['target_iou'])
    print(write(results, classes, args.out))


if __name__ == '__main__':
    main()
