"""Segment an image or a folder of images with an exported checkpoint.

    python demo/image_demo.py CONFIG CHECKPOINT IMAGES --out-dir OUT [--device cpu] [--opacity 0.5]

``CONFIG`` is the config the model was trained with (an adaptation config works: its student is
used) and ``CHECKPOINT`` the file ``tools/publish_model.py`` wrote (or any plain mmseg checkpoint of
that network). Writes ``OUT/vis/<name>.png`` (palette overlay) and ``OUT/pred/<name>.png`` (class
ids), through mmseg's ``MMSegInferencer`` (``mmsfda.apis.build_inferencer``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmsfda.apis.inference import build_inferencer, segment_images  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', help='an image file or a folder of images')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda:0 (default: cuda if any)')
    parser.add_argument('--opacity', type=float, default=0.5)
    args = parser.parse_args(argv)
    inferencer = build_inferencer(args.config, args.checkpoint, device=args.device)
    for path in segment_images(inferencer, args.images, args.out_dir, opacity=args.opacity):
        print(path)


if __name__ == '__main__':
    main()
