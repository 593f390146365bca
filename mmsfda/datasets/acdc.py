"""ACDC, the Adverse Conditions Dataset with Correspondences (Sakaridis et al., ICCV 2021).

Cityscapes' 19 classes under four adverse conditions (fog, night, rain, snow), 1920x1080 frames,
as distributed (``rgb_anon_trainvaltest.zip`` and ``gt_trainval.zip`` unzipped into one folder)::

    data/acdc/rgb_anon/<condition>/{train,val,test}/<sequence>/<name>_rgb_anon.png
    data/acdc/gt/<condition>/{train,val}/<sequence>/<name>_gt_labelTrainIds.png   # shipped
    data/acdc/gt/<condition>/{train,val}/<sequence>/<name>_gt_labelIds.png        # shipped

The test labels are not public (ACDC's benchmark server scores test predictions). One dataset
reads one split of one or several conditions; sample names are relative to ``rgb_anon``
(``night/train/GOPR0351/GOPR0351_frame_000159``), so an ``ann_file`` (e.g. an entropy easy/hard
split, :mod:`mmsfda.engine.entropy_split`) indexes every condition from one image folder.
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .layout_check import check_folders, check_layout

__all__ = ['ACDCDataset', 'ACDC_CONDITIONS']

#: ACDC's four adverse conditions, the folder names under ``rgb_anon`` and ``gt``.
ACDC_CONDITIONS = ('fog', 'night', 'rain', 'snow')
_DOWNLOAD = ('ACDC is rgb_anon_trainvaltest.zip (images) and gt_trainval.zip (labels) from '
             'https://acdc.vision.ee.ethz.ch, both unzipped into {root}')


@DATASETS.register_module()
class ACDCDataset(BaseSegDataset):
    """ACDC (one split of one or several conditions) with the 19 Cityscapes classes.

    The layout is checked when the dataset is built (:func:`check_folders`, :func:`check_layout`):
    a missing condition folder names the folder and what to download; missing
    ``*_gt_labelTrainIds.png`` files name ``tools/dataset_converters/acdc.py`` (it writes them from
    ``*_gt_labelIds.png``).

    Args:
        conditions (str | Sequence[str]): Conditions to read, of :data:`ACDC_CONDITIONS`.
            Defaults to all four.
        split (str): The split folder under each condition: ``'train'``, ``'val'`` or
            ``'test'`` (unlabelled: no ``seg_map_path``). Defaults to ``'train'``.
        data_prefix (dict): ``img_path`` (default ``'rgb_anon'``) and, for labelled splits,
            ``seg_map_path`` (default ``'gt'``); omit ``seg_map_path`` for an unlabelled target.
        **kwargs: ``BaseSegDataset``'s. An ``ann_file`` must list only images of the chosen
            conditions and split (its names relative to ``rgb_anon``).
    """
    METAINFO = CityscapesDataset.METAINFO
    CONVERTER = 'python tools/dataset_converters/acdc.py {root} --nproc 8'

    def __init__(self,
                 conditions: Union[str, Sequence[str]] = ACDC_CONDITIONS,
                 split: str = 'train',
                 img_suffix: str = '_rgb_anon.png',
                 seg_map_suffix: str = '_gt_labelTrainIds.png',
                 data_prefix: Optional[dict] = None,
                 **kwargs) -> None:
        conditions = (conditions, ) if isinstance(conditions, str) else tuple(conditions)
        unknown = [c for c in conditions if c not in ACDC_CONDITIONS]
        if not conditions or unknown:
            raise ValueError(f'ACDCDataset: conditions must be some of {ACDC_CONDITIONS}, got '
                             f'{conditions}')
        if not isinstance(split, str) or not split or osp.sep in split:
            raise ValueError(f'ACDCDataset: split must be a folder name (train, val, test), got '
                             f'{split!r}')
        self.conditions, self.split = conditions, split
        if data_prefix is None:
            data_prefix = dict(img_path='rgb_anon', seg_map_path='gt')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, **kwargs)

    def _folders(self) -> List[str]:
        """``<condition>/<split>`` of every chosen condition, relative to rgb_anon and gt."""
        return [osp.join(c, self.split) for c in self.conditions]

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        img_root = self.data_prefix.get('img_path', '')
        ann_root = self.data_prefix.get('seg_map_path') or None
        if ann_root is not None and self.split == 'test':
            raise ValueError(f'{name}: ACDC\'s test labels are not public (its benchmark server '
                             "scores test predictions): evaluate on split='val', or drop "
                             'data_prefix.seg_map_path to read the test images')
        folders = self._folders()
        for folder in folders:
            try:
                check_folders(name, osp.join(img_root, folder),
                              ann_root and osp.join(ann_root, folder))
            except FileNotFoundError as e:
                raise FileNotFoundError(
                    f'{e}. {_DOWNLOAD.format(root=self.data_root or ".")}') from None
        # mmseg lists every image under rgb_anon (or the ann_file's); keep the chosen folders'.
        prefixes = tuple(f + osp.sep for f in folders)
        data_list, outside = [], []
        for info in super().load_data_list():
            chosen = osp.relpath(info['img_path'], img_root).startswith(prefixes)
            (data_list if chosen else outside).append(info)
        if self.ann_file and outside:
            raise ValueError(f'{name}: {self.ann_file} lists {len(outside)} images outside '
                             f'{[osp.join(img_root, f) for f in folders]}, e.g. '
                             f'{outside[0]["img_path"]}: it indexes other conditions or another '
                             'split')
        # one condition: name its folders in the messages
        img_dir, ann_dir = img_root, ann_root
        if len(folders) == 1:
            img_dir = osp.join(img_root, folders[0])
            ann_dir = ann_root and osp.join(ann_root, folders[0])
        check_layout(name, data_list, img_dir, ann_dir, self.img_suffix, self.seg_map_suffix,
                     self.ann_file, self.CONVERTER.format(root=self.data_root or '.'))
        return data_list
