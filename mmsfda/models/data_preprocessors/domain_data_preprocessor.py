"""Data preprocessor for batches that hold a source and a target branch."""
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

# 'easy': a second stream of target images (ATP's Propagate: EasyHardPairDataset), padded as the
# target branch.
BRANCHES = ('source', 'target', 'easy')


#: Per-pixel maps of a sample that are padded with 0 (not trusted) like the labels with 255.
ZERO_PADDED_MAPS = ('pseudo_weight', 'valid_pseudo_mask')


def pad_pseudo_weights(size, samples):
    """Pad each sample's ``pseudo_weight`` and ``valid_pseudo_mask`` [1, h, w] with 0 at the
    bottom/right to ``size``, as mmseg's ``stack_batch`` pads ``gt_sem_seg`` (with 255) to the
    batch's padded size."""
    for s in samples:
        for key in ZERO_PADDED_MAPS:
            if key not in s:
                continue
            w = getattr(s, key).data
            dh, dw = size[0] - w.shape[-2], size[1] - w.shape[-1]
            if dh or dw:
                setattr(s, key, PixelData(data=F.pad(w, (0, dw, 0, dh), value=0)))


@MODELS.register_module()
class DomainDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` applied to each domain branch of a batch.

    A :class:`DomainPairDataset` batch is ``{'source': {'inputs', 'data_samples'}, 'target': {...}}``;
    each branch is normalised, padded and stacked like an mmseg batch, and the result is
    ``{'inputs': {'source': [B,3,H,W], 'target': [B,3,H,W]}, 'data_samples': {'source': [...],
    'target': [...]}}``. Offline pseudo-label weights (``pseudo_weight``) are padded with 0 like the
    labels are padded with 255. A plain mmseg batch (``{'inputs', 'data_samples'}``; target-only SFDA training,
    validation, testing) is processed exactly as :class:`SegDataPreProcessor` does.

    Args:
        source_size / target_size (tuple[int, int] | None): pad size per branch in training (the crop
            sizes may differ). Default: ``size`` for both.
        **kwargs: :class:`SegDataPreProcessor` arguments.
    """

    def __init__(self, source_size=None, target_size=None, **kwargs):
        super().__init__(**kwargs)
        self.branch_size = dict(source=source_size or self.size, target=target_size or self.size,
                                easy=target_size or self.size)

    def _forward_branch(self, data, training):
        out = super().forward(data, training)
        if training and out['data_samples'] is not None:
            pad_pseudo_weights(out['inputs'].shape[-2:], out['data_samples'])
        return out

    def forward(self, data, training=False):
        if not any(b in data for b in BRANCHES):
            return self._forward_branch(data, training)
        inputs, samples = {}, {}
        default_size = self.size
        try:
            for branch in BRANCHES:
                if branch not in data:
                    continue
                self.size = self.branch_size[branch]
                out = self._forward_branch(data[branch], training)
                inputs[branch], samples[branch] = out['inputs'], out['data_samples']
        finally:
            self.size = default_size
        return dict(inputs=inputs, data_samples=samples)
