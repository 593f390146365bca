from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .layout_check import LayoutCheckMixin


@DATASETS.register_module()
class GTA5Dataset(LayoutCheckMixin, BaseSegDataset):
    """GTA5 (Richter et al., 2016) with the 19 Cityscapes classes.

    Layout after ``tools/dataset_converters/gta.py``::

        data/gta/images/00001.png
        data/gta/labels/00001.png                  # raw: Cityscapes label ids 0-33
        data/gta/labels/00001_labelTrainIds.png    # converted: train ids 0-18, 255 = ignore

    Use ``data_prefix=dict(img_path='images', seg_map_path='labels')``. A missing folder, an empty
    split or unconverted labels fail when the dataset is built (:class:`LayoutCheckMixin`).
    """
    METAINFO = CityscapesDataset.METAINFO
    CONVERTER = 'python tools/dataset_converters/gta.py {root} --nproc 8'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
