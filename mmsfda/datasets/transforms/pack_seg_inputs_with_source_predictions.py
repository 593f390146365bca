"""``PackSegInputsWithWeights`` that also packs the black-box source probabilities."""
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS

from .pack_seg_inputs_with_weights import PackSegInputsWithWeights


@TRANSFORMS.register_module()
class PackSegInputsWithSourcePredictions(PackSegInputsWithWeights):
    """Pack like :class:`PackSegInputsWithWeights`, plus ``results['source_probs']`` [H, W, C]
    (from :class:`LoadSourcePredictions`) as the data sample's ``source_probs``, ``PixelData``
    with ``data`` float32 [C, H, W] (read by ``SoftTargetKLLoss``)."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        probs = results.get('source_probs')
        if probs is not None:
            data = torch.from_numpy(np.ascontiguousarray(probs.transpose(2, 0, 1)))
            packed['data_samples'].set_data(dict(source_probs=PixelData(data=data.float())))
        return packed
