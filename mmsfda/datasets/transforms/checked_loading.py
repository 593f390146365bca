"""Loading transforms that fail with an error naming the file, instead of deep in a collate.

mmcv's ``LoadImageFromFile`` reports a corrupt image as ``AssertionError`` (or a decoder error),
and mmseg's ``LoadAnnotations`` loads a label map holding ids the model does not know without a
word: the loss then fails on CUDA with a device-side assert, or silently trains on wrong labels.
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


def _read_bytes(path: str, backend_args: Optional[dict], what: str) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{what} file not found: {path}') from e


def _decode(data: bytes, path: str, what: str, **kwargs) -> np.ndarray:
    try:
        array = mmcv.imfrombytes(data, **kwargs)
    except Exception as e:  # each decoder (cv2, pillow, turbojpeg, tifffile) raises its own
        raise ValueError(f'cannot decode {what} file {path} ({len(data)} bytes): {e!r}') from e
    if array is None or array.size == 0:
        raise ValueError(f'cannot decode {what} file {path} ({len(data)} bytes): '
                         'corrupt, truncated or not an image')
    return array


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` with errors that name the file.

    Same arguments as :class:`mmcv.transforms.LoadImageFromFile`. Unless ``ignore_empty`` is set
    (then the sample is dropped as in mmcv), a missing file raises ``FileNotFoundError`` and a file
    that does not decode raises ``ValueError``, both naming the path.
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                client = fileio.FileClient.infer_client(self.file_client_args, filename)
                try:
                    img_bytes = client.get(filename)
                except FileNotFoundError as e:
                    raise FileNotFoundError(f'image file not found: {filename}') from e
            else:
                img_bytes = _read_bytes(filename, self.backend_args, 'image')
            img = _decode(img_bytes, filename, 'image', flag=self.color_type,
                          backend=self.imdecode_backend)
        except (FileNotFoundError, ValueError):
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that checks the label map it loads.

    Args:
        num_classes (int | None): when given, every label value (after ``reduce_zero_label`` and
            the dataset's ``label_map``) must lie in ``[0, num_classes)`` or be ``ignore_index``;
            otherwise ``ValueError`` names the file, the offending values and the range. ``None``
            skips the value check.
        ignore_index (int): the label of unlabelled pixels. Defaults to 255.
        check_shape (bool): the label map must have the image's original size
            (``results['ori_shape']``, when the image was loaded first). Defaults to True.
        **kwargs: ``reduce_zero_label``, ``backend_args``, ``imdecode_backend`` as in mmseg.

    A missing label file raises ``FileNotFoundError`` and an undecodable or multi-channel one
    ``ValueError``, both naming the label file (and the image it belongs to).
    """

    def __init__(self, num_classes: Optional[int] = None, ignore_index: int = 255,
                 check_shape: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes is not None and not 0 < num_classes <= 256:
            raise ValueError(f'num_classes must be in [1, 256] for uint8 label maps, '
                             f'got {num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.check_shape = check_shape

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        of_image = f" (the label of image {results['img_path']})" if 'img_path' in results else ''
        data = _read_bytes(path, self.backend_args, 'label')
        seg = _decode(data, path, 'label', flag='unchanged', backend=self.imdecode_backend)
        seg = seg.squeeze()
        if seg.ndim != 2:
            raise ValueError(f'label file {path}{of_image} must hold one channel of class ids, '
                             f'got an array of shape {seg.shape}')
        if self.check_shape and 'ori_shape' in results and \
                tuple(seg.shape) != tuple(results['ori_shape']):
            raise ValueError(f'label file {path} has size {tuple(seg.shape)} but its image '
                             f"{results.get('img_path')} has size {tuple(results['ori_shape'])}")
        if seg.dtype != np.uint8:
            if seg.min() < 0 or seg.max() > 255:
                raise ValueError(f'label file {path}{of_image} holds values outside [0, 255] '
                                 f'(min {seg.min()}, max {seg.max()})')
            seg = seg.astype(np.uint8)

        # The rest follows mmseg's LoadAnnotations._load_seg_map.
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results['reduce_zero_label']
        assert self.reduce_zero_label == results['reduce_zero_label'], \
            'Initialize dataset with `reduce_zero_label` as ' \
            f'{results["reduce_zero_label"]} but when load annotation ' \
            f'the `reduce_zero_label` is {self.reduce_zero_label}'
        if self.reduce_zero_label:
            seg[seg == 0] = 255
            seg = seg - 1
            seg[seg == 254] = 255
        if results.get('label_map', None) is not None:
            seg_copy = seg.copy()
            for old_id, new_id in results['label_map'].items():
                seg[seg_copy == old_id] = new_id

        if self.num_classes is not None:
            self._check_values(seg, path, of_image)
        results['gt_seg_map'] = seg
        results['seg_fields'].append('gt_seg_map')

    def _check_values(self, seg: np.ndarray, path: str, of_image: str) -> None:
        counts = np.bincount(seg.ravel(), minlength=256)
        counts[:self.num_classes] = 0
        if 0 <= self.ignore_index < counts.size:
            counts[self.ignore_index] = 0
        bad = np.flatnonzero(counts)
        if bad.size:
            shown = ', '.join(f'{v} ({counts[v]} px)' for v in bad[:10])
            more = f' and {bad.size - 10} more' if bad.size > 10 else ''
            raise ValueError(
                f'label file {path}{of_image} holds values {shown}{more} outside the expected '
                f'range [0, {self.num_classes}) (num_classes={self.num_classes}; '
                f'{self.ignore_index} = ignore)')

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, check_shape={self.check_shape})')
