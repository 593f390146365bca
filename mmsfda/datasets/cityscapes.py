from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from .layout_check import LayoutCheckMixin


@DATASETS.register_module()
class CheckedCityscapesDataset(LayoutCheckMixin, CityscapesDataset):
    """mmseg's ``CityscapesDataset``, its layout checked when built (:class:`LayoutCheckMixin`).

    Layout after mmseg's converter (``tools/dataset_converters/cityscapes.py``, which needs
    ``cityscapesscripts``)::

        data/cityscapes/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
        data/cityscapes/gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png   # converted

    A missing folder, an empty split or a missing ``*_gtFine_labelTrainIds.png`` (labels not
    converted) fails at build time, naming the folder and the converter command.
    """
    CONVERTER = 'python tools/dataset_converters/cityscapes.py {root} --nproc 8'
