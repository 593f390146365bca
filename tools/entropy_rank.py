"""Write an easy/hard split of a target set by prediction entropy (ATP's Propagate), standalone.

    python tools/entropy_rank.py CONFIG CHECKPOINT --out SPLIT_DIR [--easy-ratio 0.3]

CONFIG's ``train_cfg.rank_dataloader`` (an ATP propagate config) or, with ``--dataloader test``,
its ``test_dataloader`` gives the images; each is scored by the mean normalised entropy of the
model's prediction and the lowest ``--easy-ratio`` are easy (``easy_split.txt``,
``hard_split.txt``, ``split_meta.json`` in SPLIT_DIR, see ``mmsfda/engine/entropy_split.py``).
Train on it with ``--cfg-options train_cfg.split_dir=SPLIT_DIR`` (``EntropySplitLoop`` then reuses
it instead of ranking).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True)
    p.add_argument('--easy-ratio', type=float, default=0.3)
    p.add_argument('--dataloader', choices=('rank', 'test'), default='rank')
    args = p.parse_args(argv)

    import mmsfda  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from mmseg.registry import MODELS

    from mmsfda.engine.entropy_split import image_entropy_scores, write_split
    from mmsfda.engine.pseudo_labeling import label_dataloader_cfg
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    loader_cfg = (cfg.train_cfg.get('rank_dataloader') if args.dataloader == 'rank'
                  else cfg.test_dataloader)
    if loader_cfg is None:
        raise ValueError(f'{args.config} has no train_cfg.rank_dataloader: use --dataloader test')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    loader = Runner.build_dataloader(label_dataloader_cfg(loader_cfg))
    scores = image_entropy_scores(model, loader)
    meta = write_split(args.out, scores, args.easy_ratio, loader.dataset.data_prefix['img_path'],
                       loader.dataset.img_suffix)
    print(f'{meta["num_easy"]} easy of {meta["num_images"]} images written to {args.out}')


if __name__ == '__main__':
    main()
