"""Easy/hard split of a target set by prediction entropy (ATP's Propagate, IntraDA's ranking).

ATP's public ``tools/entropy_rank.py`` (arXiv:2106.11653) scores every target train image by the
mean over its pixels of the normalised entropy ``-sum_c p_c log p_c / log C`` of a model's
prediction, sorts ascending and calls the lowest ``lambda`` fraction (0.3) *easy*, the rest
*hard*. It copies the images into two folders; here only two annotation files are written, in
mmseg's ``ann_file`` format (one image name per line, relative to the image folder, without the
suffix), beside a ``split_meta.json`` that says which image folder they index, so that a split is
never used with another dataset:

    <split_dir>/easy_split.txt, <split_dir>/hard_split.txt, <split_dir>/split_meta.json
"""
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.dist import is_main_process

from ..utils import atomic_write

EASY, HARD, META = 'easy_split.txt', 'hard_split.txt', 'split_meta.json'


def image_name(img_path: str, img_dir: str, img_suffix: str) -> str:
    """``img_path`` relative to ``img_dir`` without ``img_suffix`` (mmseg's ann_file entry)."""
    rel = osp.relpath(img_path, img_dir)
    if not rel.endswith(img_suffix):
        raise ValueError(f'{img_path} does not end with the dataset suffix {img_suffix!r}')
    return rel[:-len(img_suffix)]


@torch.no_grad()
def image_entropy_scores(model, dataloader) -> Dict[str, float]:
    """Mean normalised prediction entropy of every image of ``dataloader``, by image path.

    Args:
        model: An mmseg segmentor (plain or adaptation; its ``predict`` is used, in eval mode).
        dataloader: A test-time dataloader (each image once).

    Returns:
        dict: ``img_path -> score`` in [0, 1].
    """
    was_training = model.training
    model.eval()
    scores = {}
    try:
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            for sample in model.predict(data['inputs'], data['data_samples']):
                logits = sample.seg_logits.data.float()  # [C, H, W]
                log_p = logits.log_softmax(0)
                ent = -(log_p.exp() * log_p).sum(0) / torch.log(torch.tensor(float(len(logits))))
                scores[sample.img_path] = float(ent.mean())
    finally:
        model.train(was_training)
    return scores


def split_by_score(scores: Dict[str, float], easy_ratio: float) -> Tuple[List[str], List[str]]:
    """``(easy, hard)`` keys: the ``round(easy_ratio * N)`` lowest scores (at least 1, at most
    N - 1) are easy; ties keep the key order (sorted by name)."""
    if not 0.0 < easy_ratio < 1.0:
        raise ValueError(f'easy_ratio must be in (0, 1), got {easy_ratio}')
    if len(scores) < 2:
        raise ValueError(f'an easy/hard split needs at least 2 images, got {len(scores)}')
    order = sorted(sorted(scores), key=lambda k: scores[k])
    n_easy = min(max(1, round(easy_ratio * len(order))), len(order) - 1)
    return order[:n_easy], order[n_easy:]


def write_split(split_dir: str, scores: Dict[str, float], easy_ratio: float, img_dir: str,
                img_suffix: str) -> dict:
    """Write the split files of ``scores`` (``img_path -> score``) atomically (main process)."""
    easy, hard = split_by_score(scores, easy_ratio)
    meta = dict(img_dir=osp.abspath(img_dir), img_suffix=img_suffix, num_images=len(scores),
                easy_ratio=easy_ratio, num_easy=len(easy),
                scores={image_name(k, img_dir, img_suffix): v for k, v in sorted(scores.items())})
    if is_main_process():
        for name, keys in ((EASY, easy), (HARD, hard)):
            atomic_write(osp.join(split_dir, name),
                         ''.join(image_name(k, img_dir, img_suffix) + '\n' for k in keys))
        atomic_write(osp.join(split_dir, META), json.dumps(meta, indent=1) + '\n')
    return meta


def split_exists(split_dir: str) -> bool:
    return all(osp.isfile(osp.join(split_dir, f)) for f in (EASY, HARD, META))


def check_split(split_dir: str, img_dir: str, img_suffix: str) -> Dict[str, List[str]]:
    """Read a split and check it indexes ``img_dir``; returns ``{'easy': [...], 'hard': [...]}``.

    Raises:
        FileNotFoundError: A split file or a listed image is missing (names both).
        ValueError: The split was written for another image folder or suffix, or the lists
            overlap (names the file, the key and the expected value).
    """
    meta_file = osp.join(split_dir, META)
    for f in (EASY, HARD, META):
        if not osp.isfile(osp.join(split_dir, f)):
            raise FileNotFoundError(f'easy/hard split: {osp.join(split_dir, f)} does not exist '
                                    '(write it with tools/entropy_rank.py or EntropySplitLoop)')
    with open(meta_file) as f:
        meta = json.load(f)
    for key, expected in (('img_dir', osp.abspath(img_dir)), ('img_suffix', img_suffix)):
        if meta.get(key) != expected:
            raise ValueError(f'{meta_file}: {key} is {meta.get(key)!r}, but the dataset it is used '
                             f'with has {expected!r}: the split belongs to another dataset')
    lists = {}
    for part, f in (('easy', EASY), ('hard', HARD)):
        with open(osp.join(split_dir, f)) as fh:
            lists[part] = [line.strip() for line in fh if line.strip()]
    overlap = set(lists['easy']) & set(lists['hard'])
    if overlap:
        raise ValueError(f'{split_dir}: {len(overlap)} images are both easy and hard, e.g. '
                         f'{sorted(overlap)[:3]}')
    if len(lists['easy']) + len(lists['hard']) != meta.get('num_images'):
        raise ValueError(f'{meta_file}: num_images is {meta.get("num_images")} but the split files '
                         f'list {len(lists["easy"]) + len(lists["hard"])} images')
    for part in ('easy', 'hard'):
        for name in lists[part]:
            path = osp.join(img_dir, name + img_suffix)
            if not osp.isfile(path):
                raise FileNotFoundError(f'{osp.join(split_dir, EASY if part == "easy" else HARD)} '
                                        f'lists {name!r}, but {path} does not exist: the split '
                                        'belongs to another dataset')
    return lists


def dataset_image_dir(dataset) -> Tuple[str, str]:
    """``(img_dir, img_suffix)`` of a built mmseg dataset."""
    return dataset.data_prefix['img_path'], dataset.img_suffix


def names_of(paths: Sequence[str], img_dir: str, img_suffix: str) -> List[str]:
    return [image_name(p, img_dir, img_suffix) for p in paths]
