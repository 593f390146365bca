"""Inference with an exported (``tools/publish_model.py``) or plain checkpoint through mmseg's
``MMSegInferencer``, from any mmsfda config of the same network."""
import copy
import os
import os.path as osp
import warnings
from typing import List, Optional

from mmengine.config import Config

__all__ = ['plain_inference_config', 'build_inferencer', 'segment_images']

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
# mmsfda's checked loaders -> mmseg's (MMSegInferencer looks for LoadImageFromFile by name).
_PLAIN_TRANSFORMS = {'CheckedLoadImageFromFile': 'LoadImageFromFile',
                     'CheckedLoadAnnotations': 'LoadAnnotations'}


def plain_inference_config(config) -> Config:
    """The config of the plain network: an adaptation model's ``student`` (what
    ``tools/publish_model.py`` exports), and a test pipeline with mmseg's own loaders.

    Args:
        config (str | Config): An mmsfda config (adaptation or plain).
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if 'student' in cfg.model:
        student = cfg.model.student
        if 'data_preprocessor' not in student and 'data_preprocessor' in cfg.model:
            student.data_preprocessor = cfg.model.data_preprocessor
        cfg.model = student
    pipeline = cfg.test_dataloader.dataset.pipeline
    for t in pipeline:
        if t['type'] in _PLAIN_TRANSFORMS:
            t['type'] = _PLAIN_TRANSFORMS[t['type']]
            t.pop('num_classes', None)  # an option of the checked loader only
    return cfg


def build_inferencer(config, checkpoint: str, device: Optional[str] = None):
    """``MMSegInferencer`` for ``checkpoint`` (exported student or plain segmentor checkpoint)
    with the network of ``config``. Classes and palette come from the checkpoint's
    ``meta.dataset_meta`` (saved by training), else from the config's test dataset."""
    import mmsfda  # noqa: F401  (registers the modules)
    import torch
    from mmseg.apis import MMSegInferencer
    from mmseg.registry import DATASETS
    cfg = plain_inference_config(config)
    # mmseg falls back to Cityscapes' names when the checkpoint has none: read them ourselves.
    ckpt_meta = torch.load(checkpoint, map_location='cpu', weights_only=False,
                           mmap=True).get('meta', {}) or {}
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='dataset_meta or class names are not saved')
        inferencer = MMSegInferencer(model=cfg, weights=checkpoint, device=device)
    if not (ckpt_meta.get('dataset_meta') or {}).get('classes'):
        dataset = cfg.test_dataloader.dataset
        dataset_cls = DATASETS.get(dataset['type'])
        meta = dict(dataset_cls.METAINFO if dataset_cls else {}, **dataset.get('metainfo', {}))
        inferencer.model.dataset_meta = meta
        inferencer.visualizer.set_dataset_meta(meta.get('classes'), meta.get('palette'))
    return inferencer


def list_images(path: str) -> List[str]:
    """An image file, or the images of a folder (recursively, sorted)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'no image or folder at {path}')
    found = sorted(osp.join(root, f) for root, _, files in os.walk(path) for f in files
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not found:
        raise ValueError(f'no image ({", ".join(IMAGE_SUFFIXES)}) under {path}')
    return found


def segment_images(inferencer, path: str, out_dir: str, opacity: float = 0.5,
                   batch_size: int = 1) -> List[str]:
    """Segment an image or a folder of images; write ``<out_dir>/vis/<name>`` (prediction blended
    over the image, palette colours) and ``<out_dir>/pred/<stem>.png`` (class ids). Returns the
    class-id files, in the order of the images.

    mmseg's inferencer names prediction files by a running counter (``00000003_pred.png``); they
    are renamed after their image here (visualisations already carry the image's name, so two
    images of one name in different folders would overwrite each other: an error).
    """
    images = list_images(path)
    names = [osp.basename(p) for p in images]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f'images of the same name in different folders under {path}: {clash}; '
                         'segment the folders one at a time')
    first = inferencer.num_pred_imgs
    inferencer(images, out_dir=out_dir, opacity=opacity, batch_size=batch_size,
               img_out_dir='vis', pred_out_dir='pred')
    written = []
    for k, name in enumerate(names):
        numbered = osp.join(out_dir, 'pred', f'{first + k:08d}_pred.png')
        dst = osp.join(out_dir, 'pred', osp.splitext(name)[0] + '.png')
        os.replace(numbered, dst)
        written.append(dst)
    return written
