"""Turn a source model into black-box predictions: one file per target image (ATP's black-box
setting, arXiv:2106.11653). The distillation stage
(``configs/atp/atp-distill_*.py``) then trains a fresh target model from this directory alone; it
never sees the source weights.

    python tools/atp_black_box_predictions.py CONFIG CHECKPOINT IMG_DIR --out DIR \
        [--format probs|labels] [--img-suffix .png] [--device cpu]

``probs``: softmax probabilities as compressed float16 ``<name>.npz``; ``labels``: argmax PNGs
(the API returns the top class only). ``<name>`` is the image's path relative to ``IMG_DIR``
without the suffix; ``DIR/meta.json`` records the format, the class count and ``IMG_DIR``
(see ``mmsfda/datasets/source_prediction_files.py``). Images already written are skipped, so an
interrupted run continues; ``meta.json`` is written last.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='config of the source model (a plain mmseg segmentor)')
    p.add_argument('checkpoint')
    p.add_argument('img_dir', help='the target train images')
    p.add_argument('--out', required=True)
    p.add_argument('--format', choices=('probs', 'labels'), default='probs')
    p.add_argument('--img-suffix', default='.png')
    p.add_argument('--device', default='cpu')
    args = p.parse_args(argv)

    import mmsfda  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.apis import inference_model, init_model

    from mmsfda.datasets.source_prediction_files import (prediction_path, write_meta,
                                                         write_prediction)
    init_default_scope('mmseg')
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'image folder {args.img_dir} does not exist')
    names = sorted(osp.relpath(osp.join(root, f), args.img_dir)[:-len(args.img_suffix)]
                   for root, _, files in os.walk(args.img_dir) for f in files
                   if f.endswith(args.img_suffix))
    if not names:
        raise FileNotFoundError(f'no *{args.img_suffix} image under {args.img_dir}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    # The API sees images only: no annotation loading, whatever the config's test pipeline says.
    model.cfg.test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    num_classes = model.decode_head.num_classes
    done = 0
    with torch.no_grad():
        for name in names:
            if osp.isfile(prediction_path(args.out, name, args.format)):
                continue
            result = inference_model(model, osp.join(args.img_dir, name + args.img_suffix))
            probs = result.seg_logits.data.float().softmax(0).cpu().numpy()
            write_prediction(args.out, name, probs, args.format)
            done += 1
    write_meta(args.out, dict(format=args.format, num_classes=num_classes,
                              classes=list(model.dataset_meta.get('classes') or []),
                              img_dir=osp.abspath(args.img_dir), img_suffix=args.img_suffix,
                              num_images=len(names)))
    print(f'{done} new predictions ({len(names)} images, format {args.format}) in {args.out}')


if __name__ == '__main__':
    main()
