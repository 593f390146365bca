import os.path as osp

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class ToyCityDataset(BaseSegDataset):
    """The synthetic road scenes written by ``tools/make_toy_data.py`` (one domain per folder).

    Images and train-id labels are ``images/{split}/NNNNN.png`` and ``labels/{split}/NNNNN.png``
    under ``data_root`` (e.g. ``data/toy/source``); 255 marks unlabelled pixels.
    """
    METAINFO = dict(
        classes=('road', 'sidewalk', 'building', 'pole', 'traffic sign', 'vegetation',
                 'terrain', 'sky', 'person', 'car'),
        palette=[[128, 64, 128], [244, 35, 232], [70, 70, 70], [153, 153, 153], [220, 220, 0],
                 [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [0, 0, 142]])

    def __init__(self, img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False,
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> list:
        img_dir = self.data_prefix.get('img_path', None)
        if not img_dir or not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'ToyCity image folder {img_dir!r} does not exist (data_root={self.data_root!r}): '
                'generate the data with: python tools/make_toy_data.py --out data/toy')
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(
                f'ToyCity image folder {img_dir!r} holds no *{self.img_suffix} image: '
                'generate the data with: python tools/make_toy_data.py --out data/toy')
        for info in data_list:
            if 'seg_map_path' in info and not osp.isfile(info['seg_map_path']):
                raise FileNotFoundError(f"image {info['img_path']} has no label file "
                                        f"{info['seg_map_path']}")
        return data_list
