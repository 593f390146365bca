"""Dataset layouts checked when a dataset is built, not at the first validation hours later.

mmseg's ``BaseSegDataset`` lists images by suffix and *derives* label paths from them without
looking at the disk, so a wrong ``data_root``, unconverted labels (no ``*_labelTrainIds.png`` yet) or
an empty split only fail when a batch or the first validation loads a missing file. The datasets of
real benchmarks mix :class:`LayoutCheckMixin` in: building them fails at once, naming the folder, what
is missing and the converter to run (``docs/datasets.md`` describes every layout).
"""
import os.path as osp
from typing import List, Optional

__all__ = ['LayoutCheckMixin', 'check_folders', 'check_layout']

_SEE = ' (docs/datasets.md shows the expected layout)'


def check_folders(dataset_name: str, img_dir: str, ann_dir: Optional[str]) -> None:
    """Raise ``FileNotFoundError`` naming the image or label folder that does not exist."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'{dataset_name}: image folder {img_dir} does not exist{_SEE}')
    if ann_dir is not None and not osp.isdir(ann_dir):
        raise FileNotFoundError(f'{dataset_name}: label folder {ann_dir} does not exist{_SEE}')


def check_layout(dataset_name: str, data_list: List[dict], img_dir: str, ann_dir: Optional[str],
                 img_suffix: str, seg_map_suffix: str, ann_file: str = '',
                 converter: Optional[str] = None) -> None:
    """Raise if the listed samples cannot be loaded.

    Args:
        dataset_name (str): Class name, for the message.
        data_list (list[dict]): mmseg's data infos (``img_path``, ``seg_map_path`` or ``None``).
        img_dir (str): The image folder (``data_root`` joined with ``data_prefix.img_path``).
        ann_dir (str | None): The label folder, ``None`` for an unlabelled split.
        img_suffix, seg_map_suffix (str): The dataset's suffixes.
        ann_file (str): The split file, if any.
        converter (str | None): The command that writes the label files, ``{root}`` standing for
            the dataset's ``data_root``.

    Raises:
        FileNotFoundError: no image folder, no label folder, or label files missing.
        ValueError: the split lists no image.
    """
    see = _SEE
    check_folders(dataset_name, img_dir, ann_dir)
    if not data_list:
        where = f'the split file {ann_file} lists no image of' if ann_file else 'no *' + \
            img_suffix + ' image under'
        raise ValueError(f'{dataset_name}: {where} {img_dir}: an empty dataset{see}')
    if ann_dir is None:
        return
    missing = [d['seg_map_path'] for d in data_list
               if d.get('seg_map_path') and not osp.isfile(d['seg_map_path'])]
    if not missing:
        return
    fix = (f'\nThe labels are not converted yet: run\n  {converter}\n' if converter else '\n')
    raise FileNotFoundError(
        f'{dataset_name}: {len(missing)} of {len(data_list)} label files (*{seg_map_suffix}) are '
        f'missing under {ann_dir}, e.g. {missing[0]}.' + fix + see.strip(' ()') + '.')


class LayoutCheckMixin:
    """Check the layout (:func:`check_layout`) after mmseg lists the samples.

    Mix in before the mmseg dataset class. ``CONVERTER`` is the command that writes the label
    files, ``{root}`` standing for ``data_root``.
    """
    CONVERTER: Optional[str] = None

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', None)
        check_folders(type(self).__name__, img_dir, ann_dir or None)  # before mmseg lists them
        data_list = super().load_data_list()
        converter = self.CONVERTER.format(root=self.data_root or '.') if self.CONVERTER else None
        check_layout(type(self).__name__, data_list, img_dir, ann_dir or None, self.img_suffix,
                     self.seg_map_suffix, self.ann_file, converter)
        return data_list
