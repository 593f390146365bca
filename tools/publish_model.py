"""Export a trained model as a plain mmseg checkpoint, named with its hash as OpenMMLab does.

    python tools/publish_model.py work_dirs/dacs/iter_300.pth zoo/dacs_r18-tiny_toy.pth
    -> zoo/dacs_r18-tiny_toy-<sha256[:8]>.pth

An adaptation checkpoint (keys under ``student.`` / ``teacher.`` / ``aux.``) keeps only the part
asked for (``--part student``, default; ``teacher`` for an EMA teacher) under plain segmentor keys,
so the file loads into a plain mmseg config of the same network (``tools/test.py``,
``MMSegInferencer``). A plain checkpoint is kept as it is. The optimiser, schedulers and message
hub are dropped; ``meta`` is kept. mmseg's own ``publish_model.py`` does not work on this stack
(``torch.load`` defaults, hashes the input file, ``rstrip('.pth')``); this replaces it.
"""
import argparse
import hashlib
import io
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmsfda.models.segmentors import plain_state_dict  # noqa: E402
from mmsfda.utils.atomic import atomic_write  # noqa: E402

PARTS = ('student', 'teacher')


def publish(in_file: str, out_file: str, part: str = 'student') -> str:
    """Write the exported checkpoint and return its final, hashed file name."""
    if not osp.isfile(in_file):
        raise FileNotFoundError(f'checkpoint not found: {in_file}')
    ckpt = torch.load(in_file, map_location='cpu', weights_only=False)
    state = ckpt.get('state_dict', ckpt)
    meta = dict(ckpt.get('meta', {}) or {})
    meta.update(published_from=osp.basename(in_file), part=part)
    buf = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=plain_state_dict(state, part)), buf)
    data = buf.getvalue()
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    final = f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    atomic_write(final, data)
    return final


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='a checkpoint written by training')
    parser.add_argument('out_file', help='output name; the hash is appended before .pth')
    parser.add_argument('--part', choices=PARTS, default='student',
                        help='which network of an adaptation checkpoint to export')
    args = parser.parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file, args.part)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'publish_model: {e}')
    print(final)


if __name__ == '__main__':
    main()
