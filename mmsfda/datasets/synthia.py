"""SYNTHIA-RAND-CITYSCAPES and the 16-class SYNTHIA -> Cityscapes label space.

SYNTHIA -> Cityscapes is evaluated in two conventions:

* a 19-way head trained on :class:`SynthiaDataset` (terrain, truck and train never occur in the
  source), evaluated on Cityscapes' 19 classes, reporting mIoU16 / mIoU13 over class subsets;
* a 16-way head trained on :class:`Synthia16Dataset` and evaluated on :class:`Cityscapes16Dataset`.

Both 16-class datasets read the converters' 19-class ``*labelTrainIds.png`` files and remap them
at load time through mmseg's ``label_map`` (``BaseSegDataset.get_label_map``: selecting a subset of
the class-level ``METAINFO`` classes maps the others to 255 and renumbers the rest in order), so
there is one label file per image and the 16-class ids are exactly the 19 train ids with terrain
(9), truck (14) and train (16) removed.
"""
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .cityscapes import CheckedCityscapesDataset
from .layout_check import LayoutCheckMixin

CITYSCAPES_CLASSES = CityscapesDataset.METAINFO['classes']
#: The 16 classes of SYNTHIA -> Cityscapes, in 16-class train-id order.
SYNTHIA16_CLASSES = tuple(c for c in CITYSCAPES_CLASSES if c not in ('terrain', 'truck', 'train'))
#: The 13 classes of mIoU13: the 16 minus wall, fence and pole.
SYNTHIA13_CLASSES = tuple(c for c in SYNTHIA16_CLASSES if c not in ('wall', 'fence', 'pole'))


def _with_16_classes(metainfo):
    """Default ``metainfo`` to the 16 SYNTHIA classes: mmseg then derives the 19 -> 16 label map."""
    return {'classes': SYNTHIA16_CLASSES, **(metainfo or {})}


@DATASETS.register_module()
class SynthiaDataset(LayoutCheckMixin, BaseSegDataset):
    """SYNTHIA-RAND-CITYSCAPES with the 19 Cityscapes classes (3 of them absent).

    Layout after ``tools/dataset_converters/synthia.py``::

        data/synthia/RGB/0000000.png
        data/synthia/GT/LABELS/0000000.png                 # raw: 16-bit, SYNTHIA id in R
        data/synthia/GT/LABELS/0000000_labelTrainIds.png   # converted: 19-class train ids

    Use ``data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS')``. A missing folder, an empty
    split or unconverted labels fail when the dataset is built (:class:`LayoutCheckMixin`).
    """
    METAINFO = CityscapesDataset.METAINFO
    CONVERTER = 'python tools/dataset_converters/synthia.py {root} --nproc 8'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class Synthia16Dataset(SynthiaDataset):
    """SYNTHIA with the 16 SYNTHIA classes (for 16-way heads), remapped from the 19-class files."""

    def __init__(self, metainfo=None, **kwargs) -> None:
        super().__init__(metainfo=_with_16_classes(metainfo), **kwargs)


@DATASETS.register_module()
class Cityscapes16Dataset(CheckedCityscapesDataset):
    """Cityscapes with the 16 SYNTHIA classes, to evaluate 16-way SYNTHIA models.

    Reads mmseg's 19-class ``*_gtFine_labelTrainIds.png``; terrain, truck and train become 255.
    """

    def __init__(self, metainfo=None, **kwargs) -> None:
        super().__init__(metainfo=_with_16_classes(metainfo), **kwargs)
