"""Combine trained models into one checkpoint of an ``EnsembleSegmentor`` config (FDA-MBT).

    python tools/model_converters/make_ensemble.py \
        configs/fda/fda-mbt-ensemble_deeplabv2_r18-tiny_toy-target-128x256.py \
        --checkpoints w/fda_b001/iter_300.pth w/fda_b005/iter_300.pth w/fda_b009/iter_300.pth \
        --out w/fda_mbt.pth

The result is an ordinary checkpoint of the config's model: ``tools/test.py CONFIG OUT`` evaluates
the ensemble and ``tools/gen_pseudo_labels.py CONFIG OUT --out DIR`` labels the target set with it.
A member checkpoint may be a self-training run's (its ``student``) or a plain segmentor's.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmsfda  # noqa: E402,F401
from mmsfda.utils.atomic import atomic_write  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a config whose model is an EnsembleSegmentor')
    parser.add_argument('--checkpoints', nargs='+', required=True, help='one per member')
    parser.add_argument('--out', required=True, help='the ensemble checkpoint to write')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if cfg.model.get('type') != 'EnsembleSegmentor':
        raise SystemExit(f'{args.config}: model.type is {cfg.model.get("type")!r}, expected '
                         "'EnsembleSegmentor'")
    for path in args.checkpoints:
        if not osp.isfile(path):
            raise SystemExit(f'member checkpoint not found: {path}')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    cfg.model.checkpoints = list(args.checkpoints)
    model = MODELS.build(cfg.model)
    model.init_weights()
    import io
    buf = io.BytesIO()
    torch.save(dict(meta=dict(members=list(args.checkpoints), config=args.config),
                    state_dict=model.state_dict()), buf)
    atomic_write(args.out, buf.getvalue())
    print(f'wrote {args.out}: {len(args.checkpoints)} members')


if __name__ == '__main__':
    main()
