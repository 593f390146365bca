"""Multi-scale test-time augmentation fused by element-wise maximum of the logits (DiGA)."""
from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors.seg_tta import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList


@MODELS.register_module()
class MaxFusionSegTTAModel(SegTTAModel):
    """mmseg's ``SegTTAModel`` with DiGA's fusion (arXiv:2304.02222; its evaluation and
    pseudo-label scripts): the views' logits (already resized to the image by the segmentor) are
    fused by their element-wise maximum, the prediction is the argmax. ``seg_logits`` holds the
    fused logits, so calibration metrics see the fused prediction's softmax.

    Use with ``tools/test.py CONFIG CKPT --tta`` and a ``tta_pipeline`` of scales, e.g. the full
    and half resolution.
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        predictions = []
        for data_samples in data_samples_list:
            logits = torch.stack([s.seg_logits.data for s in data_samples]).amax(0)
            merged = data_samples[0]
            merged.set_data({'seg_logits': PixelData(data=logits),
                             'pred_sem_seg': PixelData(data=logits.argmax(dim=0, keepdim=True))})
            predictions.append(merged)
        return predictions
