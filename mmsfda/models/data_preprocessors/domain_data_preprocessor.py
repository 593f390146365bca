"""Data preprocessor for batches that hold a source and a target branch."""
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

BRANCHES = ('source', 'target')


@MODELS.register_module()
class DomainDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` applied to each domain branch of a batch.

    A :class:`DomainPairDataset` batch is ``{'source': {'inputs', 'data_samples'}, 'target': {...}}``;
    each branch is normalised, padded and stacked like an mmseg batch, and the result is
    ``{'inputs': {'source': [B,3,H,W], 'target': [B,3,H,W]}, 'data_samples': {'source': [...],
    'target': [...]}}``. A plain mmseg batch (``{'inputs', 'data_samples'}``; target-only SFDA training,
    validation, testing) is processed exactly as :class:`SegDataPreProcessor` does.

    Args:
        source_size / target_size (tuple[int, int] | None): pad size per branch in training (the crop
            sizes may differ). Default: ``size`` for both.
        **kwargs: :class:`SegDataPreProcessor` arguments.
    """

    def __init__(self, source_size=None, target_size=None, **kwargs):
        super().__init__(**kwargs)
        self.branch_size = dict(source=source_size or self.size, target=target_size or self.size)

    def forward(self, data, training=False):
        if not any(b in data for b in BRANCHES):
            return super().forward(data, training)
        inputs, samples = {}, {}
        default_size = self.size
        try:
            for branch in BRANCHES:
                if branch not in data:
                    continue
                self.size = self.branch_size[branch]
                out = super().forward(data[branch], training)
                inputs[branch], samples[branch] = out['inputs'], out['data_samples']
        finally:
            self.size = default_size
        return dict(inputs=inputs, data_samples=samples)
