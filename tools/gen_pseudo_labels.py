"""Label a target set with a trained model, standalone: the labelling of a self-training round.

    python tools/gen_pseudo_labels.py CONFIG CHECKPOINT --out DIR \\
        [--round R] [--tta scales=[0.75,1.0,1.25] fusion=max flip=True crop_size=[512,512]] \\
        [--dataloader auto|label|test|val] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

Runs :func:`mmsfda.engine.pseudo_labeling.label_dataset` exactly as ``SelfTrainingLoop`` does
before a round: the config's model (a ``SelfTrainingSegmentor`` with a ``pseudo_labeler``) with the
checkpoint's weights (a plain mmseg segmentor checkpoint fills the student, and the teacher when
the config has one), the config's labelling dataloader (``train_cfg.label_dataloader``, else
``test_dataloader``), the labeler's round ``R`` (growing class-balanced proportions). DIR gets one
``<stem>.png`` and ``<stem>_weight.png`` per image (atomic writes), ``labeler_state.pt`` and, last,
``manifest.json``; a progress bar runs on rank 0. Rerunning the same command reuses a complete
DIR, resumes a partial one (images already written are skipped) and relabels one written by
anything else (other weights, labeler, TTA, data), saying why. Train on DIR with
``LoadPseudoLabels(label_dir=DIR)`` in the pipeline.

Under ``tools/dist_train.sh``-style launchers (``--launcher pytorch``) every rank labels its own
shard of the images; DIR must be a folder all ranks share.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine import dist
from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file (a model with a pseudo_labeler)')
    parser.add_argument('checkpoint', help='checkpoint file of the labelling model')
    parser.add_argument('--out', required=True, help='directory of the pseudo-labels')
    parser.add_argument('--round', type=int, default=0,
                        help='self-training round of the labeler (growing proportions)')
    parser.add_argument('--tta', nargs='+', action=DictAction, default=None,
                        help='test-time augmentation, LabelingTTA arguments: '
                             'scales=[0.75,1.0,1.25] fusion=mean|max flip=True crop_size=[h,w] stride=[h,w]. Default: '
                             "the config's train_cfg.label_tta, else none")
    parser.add_argument('--dataloader', default='auto', choices=('auto', 'label', 'test', 'val'),
                        help='which dataloader of the config to label: auto = '
                             'train_cfg.label_dataloader if the config has one, else test')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda; default cuda when available (the local rank\'s GPU '
                             'under a launcher)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, as in tools/train.py')
    parser.add_argument('--launcher', default='none', choices=('none', 'pytorch', 'slurm', 'mpi'))
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def select_dataloader(cfg: Config, which: str) -> dict:
    """The dataloader config to label; errors name the missing entry."""
    label = (cfg.get('train_cfg') or {}).get('label_dataloader')
    if which == 'auto':
        which = 'label' if label is not None else 'test'
    loader = label if which == 'label' else cfg.get(f'{which}_dataloader')
    if loader is None:
        entry = 'train_cfg.label_dataloader' if which == 'label' else f'{which}_dataloader'
        raise SystemExit(f'{cfg.filename}: the config has no {entry} to label')
    return loader


def main(argv=None) -> dict:
    args = parse_args(argv)
    import mmsfda  # noqa: F401  (registers modules, patches checkpoint loading)
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmseg.registry import MODELS

    from mmsfda.engine.pseudo_labeling import label_dataloader_cfg, label_dataset

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if args.launcher != 'none':
        dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
        dist.init_dist(args.launcher, **dist_cfg)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and dist.is_distributed():
        device = f'cuda:{torch.cuda.current_device()}'

    loader_cfg = select_dataloader(cfg, args.dataloader)
    tta = args.tta if args.tta is not None else (cfg.get('train_cfg') or {}).get('label_tta')
    model = MODELS.build(cfg.model)
    if getattr(model, 'pseudo_labeler', None) is None:
        raise SystemExit(f'{args.config}: model.pseudo_labeler is not set: nothing to label with')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=False)
    model.to(device)
    seed = (cfg.get('randomness') or {}).get('seed') or 0
    loader = Runner.build_dataloader(label_dataloader_cfg(loader_cfg), seed=seed)
    manifest = label_dataset(model, loader, args.out, tta=tta, round_idx=args.round,
                             identity_extra=dict(pipeline=(loader_cfg.get('dataset') or {})
                                                 .get('pipeline')),
                             progress=not args.no_progress)
    if dist.is_main_process():
        stats = manifest['stats']
        acc = '' if stats['accuracy'] is None else f", accuracy {100 * stats['accuracy']:.1f}%"
        print(f"{'reused' if manifest['reused'] else 'wrote'} the pseudo-labels of "
              f"{sum(manifest['images_per_rank'])} images in {args.out} (hash "
              f"{manifest['hash'][:12]}): coverage {100 * stats['coverage']:.1f}%{acc}")
    return manifest


if __name__ == '__main__':
    main(sys.argv[1:])
