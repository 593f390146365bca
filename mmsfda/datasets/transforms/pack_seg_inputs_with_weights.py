"""``PackSegInputs`` that keeps the per-pixel pseudo-label weight (mmseg's packer drops it)."""
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .load_pseudo_labels import WEIGHT_SCALE


@TRANSFORMS.register_module()
class PackSegInputsWithWeights(PackSegInputs):
    """Pack like mmseg's ``PackSegInputs``, plus ``results['pseudo_weight']`` when present.

    mmseg's ``PackSegInputs`` only packs the maps it knows (``gt_seg_map``, ``gt_edge_map``,
    ``gt_depth_map``) and would silently drop the weights :class:`LoadPseudoLabels` reads.

    Added to the data sample: ``valid_pseudo_mask`` (uint8 [1, H, W], of
    :class:`PseudoLabelMargins`) when present, and ``pseudo_weight``, ``PixelData`` with ``data`` float32 [1, H, W] in
    [0, 1] (a uint8 map is divided by 255, the file encoding; a float map is taken as is), which
    :class:`~mmsfda.models.segmentors.SelfTrainingSegmentor` reads with
    ``pseudo_labels_from='dataset'``.

    Args:
        meta_keys (Sequence[str]): As in ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        valid = results.get('valid_pseudo_mask')
        if valid is not None:  # PseudoLabelMargins (HRDA's pseudo-label margins), uint8 [H, W]
            packed['data_samples'].set_data(dict(valid_pseudo_mask=PixelData(
                data=torch.from_numpy(np.ascontiguousarray(valid[None])))))
        weight = results.get('pseudo_weight')
        if weight is None:
            return packed
        seg = results.get('gt_seg_map')
        if seg is not None and tuple(weight.shape[:2]) != tuple(seg.shape[:2]):
            raise ValueError(
                f"pseudo_weight has size {tuple(weight.shape)} but gt_seg_map "
                f"{tuple(seg.shape)} for image {results.get('img_path')}: a transform moved only "
                "one of them (mmcv's Pad knows only gt_seg_map; mmseg's transforms apply to every "
                "key of results['seg_fields'])")
        if weight.dtype == np.uint8:
            weight = weight.astype(np.float32) / WEIGHT_SCALE
        else:
            weight = np.clip(weight.astype(np.float32), 0.0, 1.0)
        data = torch.from_numpy(np.ascontiguousarray(weight[None]))
        packed['data_samples'].set_data(dict(pseudo_weight=PixelData(data=data)))
        return packed
