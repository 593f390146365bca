"""FDA: train on source images rendered in the target's style by a Fourier amplitude swap."""
from typing import Optional, Tuple

from mmseg.registry import MODELS

from .base_adaptation_segmentor import Branch
from .self_training_segmentor import SelfTrainingSegmentor


@MODELS.register_module()
class FDASegmentor(SelfTrainingSegmentor):
    """FDA (Yang and Soatto, CVPR 2020, arXiv:2004.05498, Sec. 3, Eq. 3): the supervised loss is
    taken on source images whose low-frequency amplitude comes from the target batch (``FDA``,
    batched on device), beside the target losses of the config (FDA: the Charbonnier entropy
    ``EntropyLoss(normalize=True, eta=2.0)``, weight 0.005).

    The only step of its own is :meth:`split_batch`: the source images are translated as soon as
    the batch is split, so every later step (source loss, mixing, ...) sees translated images.
    Source image ``i`` takes the amplitude of target image ``i % B_target``.

    Args:
        style_transfer (dict): An ``FDA`` config (``beta``: 0.01 in FDA's training command; FDA-MBT
            trains three models with 0.01, 0.05, 0.09).
        **kwargs: See :class:`SelfTrainingSegmentor` (``setting`` must be 'uda').
    """

    def __init__(self, style_transfer: dict, **kwargs):
        super().__init__(**kwargs)
        if self.setting != 'uda':
            raise ValueError('FDA translates source images: setting must be "uda"')
        self.style_transfer = MODELS.build(style_transfer)

    def split_batch(self, inputs, data_samples) -> Tuple[Optional[Branch], Branch]:
        source, target = super().split_batch(inputs, data_samples)
        img = self.style_transfer(source.img, target.img, self.data_preprocessor.mean.view(-1),
                                  self.data_preprocessor.std.view(-1))
        return Branch(img, source.samples), target
