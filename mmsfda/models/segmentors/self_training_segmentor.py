"""Teacher-student self-training for UDA and source-free DA: the baselines' composition."""
import dataclasses
from typing import Optional

from mmseg.registry import MODELS

from ..pseudo_labelers import PseudoLabels
from .base_adaptation_segmentor import (BaseAdaptationSegmentor, Branch, StudentView,
                                        stack_labels)


@MODELS.register_module()
class SelfTrainingSegmentor(BaseAdaptationSegmentor):
    """Self-training composed in the config: teacher, labeler, mixer, augmentation, losses.

    The baselines (AdaBN, TENT, SHOT-IM, CBST, DACS) are this class with other parts; a method
    whose step differs subclasses :class:`BaseAdaptationSegmentor` instead. Its one step of its
    own is :meth:`student_view`: optionally the ``mixer`` pastes source classes onto the target
    image and labels (UDA), and ``strong_augment`` perturbs the image the student sees.

    Args:
        mixer (dict, optional): A mixer (e.g. ``ClassMix``), UDA only.
        strong_augment (dict, optional): A tensor-level augmentation of the student's target input.
        **kwargs: See :class:`BaseAdaptationSegmentor` (student, teacher, pseudo_labeler,
            target_losses, setting, trainable, ...).
    """

    def __init__(self,
                 mixer: Optional[dict] = None,
                 strong_augment: Optional[dict] = None,
                 **kwargs):
        if kwargs.get('setting', 'sfda') == 'sfda' and mixer is not None:
            raise ValueError('a mixer needs source images: it cannot be used with setting="sfda"')
        if (mixer is not None and not kwargs.get('pseudo_labeler')
                and kwargs.get('pseudo_labels_from', 'teacher') == 'teacher'):
            raise ValueError('a mixer mixes target pseudo-labels: configure a pseudo_labeler')
        super().__init__(**kwargs)
        self.mixer = MODELS.build(mixer) if mixer else None
        self.strong_augment = MODELS.build(strong_augment) if strong_augment else None

    def student_view(self, source: Optional[Branch], target: Branch,
                     pseudo_labels: Optional[PseudoLabels]) -> StudentView:
        img = target.img
        if self.mixer is not None:
            if source.img.shape[0] != img.shape[0]:
                raise ValueError(
                    f'{type(self.mixer).__name__} pairs each target image with a source image: the '
                    f'source batch has {source.img.shape[0]} images and the target batch '
                    f'{img.shape[0]} (a DomainPairDataset gives one of each per sample; check '
                    'train_dataloader.batch_size and any custom batch sampler)')
            mixed = self.mixer(source.img, stack_labels(source.samples), img, pseudo_labels.labels,
                               pseudo_labels.weights)
            img = mixed.img
            pseudo_labels = dataclasses.replace(
                pseudo_labels, labels=mixed.labels, weights=mixed.weights,
                extras=dict(pseudo_labels.extras, mix_mask=mixed.mask))
        if self.strong_augment is not None:
            # Jitter works on 0-255 images: undo the data preprocessor's normalisation.
            img = self.strong_augment(img, mean=self.data_preprocessor.mean.view(-1),
                                      std=self.data_preprocessor.std.view(-1))
        return StudentView(img, pseudo_labels)
