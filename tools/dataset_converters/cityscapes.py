"""Thin wrapper: mmseg's own Cityscapes converter (``*_gtFine_polygons.json`` -> ``*_gtFine_labelTrainIds.png``).

    python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8

Same arguments as mmseg's ``tools/dataset_converters/cityscapes.py`` (installed with mmseg under
``mmseg/.mim/tools``); it writes the train-id labels beside the polygons in ``gtFine/`` and the split
lists ``train.txt`` / ``val.txt``. It needs ``cityscapesscripts`` (pinned in
``requirements/datasets.txt``: ``pip install -r requirements/datasets.txt``).
"""
import importlib.util
import sys

from mmsfda.utils import run_mmseg_tool

if __name__ == '__main__':
    if importlib.util.find_spec('cityscapesscripts') is None:
        sys.exit('cityscapesscripts is not installed: pip install -r requirements/datasets.txt')
    run_mmseg_tool('dataset_converters/cityscapes.py')
