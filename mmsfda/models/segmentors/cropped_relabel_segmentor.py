"""Self-training on a class-balanced crop relabelled by the teacher (ATP's public Teach step)."""
import dataclasses
from typing import Optional

from mmseg.registry import MODELS

from ..pseudo_labelers import PseudoLabels
from ..pseudo_labelers.stats import pseudo_label_stats
from .base_adaptation_segmentor import Branch, StudentView
from .self_training_segmentor import SelfTrainingSegmentor


@MODELS.register_module()
class CroppedRelabelSegmentor(SelfTrainingSegmentor):
    """:class:`SelfTrainingSegmentor` whose student trains on a crop of the target image.

    ATP's public code (``atp_tta``, the "Teach" step in its simplest form, arXiv:2106.11653) per
    step: the EMA teacher labels the whole target image; a window is chosen on that pseudo-label
    with :class:`ClassBalancedCrop` (``cat_max_ratio`` 0.75); the teacher labels the *crop* again
    (``regen_pseudo``: the labels the student trains on are the teacher's on the crop it sees);
    the student trains on the strongly augmented crop with ``target_losses`` (the public code:
    cross-entropy on every argmax label).

    Args:
        crop (dict): A :class:`ClassBalancedCrop` config (``crop_size``, ``cat_max_ratio``).
        **kwargs: See :class:`SelfTrainingSegmentor` (``teacher=True``, ``pseudo_labeler``,
            ``strong_augment``, ``target_losses``).
    """

    def __init__(self, crop: dict, **kwargs):
        if not kwargs.get('pseudo_labeler'):
            raise ValueError('CroppedRelabelSegmentor crops on pseudo-labels: set pseudo_labeler')
        super().__init__(**kwargs)
        self.crop = MODELS.build(crop)

    def pseudo_labels(self, target: Branch) -> Optional[PseudoLabels]:
        """Teacher labels of the whole image choose the window; labels of the window are returned
        (``extras['crop_img']`` [B, 3, h, w] is the cropped image, ``extras['crop_boxes']`` the
        windows)."""
        full = self.teacher_probs(target.img).argmax(1)  # [B, H, W]
        boxes = self.crop(full)
        img = self.crop.crop(target.img, boxes)
        probs, context = self.teacher_outputs(img)
        pl = self.pseudo_labeler(probs, data_samples=target.samples, **context)
        if self.record_pseudo_label_stats:  # no ground truth: it was not cropped
            self.pseudo_label_stats = pseudo_label_stats(pl, self.num_classes, None)
        return dataclasses.replace(pl, extras=dict(pl.extras, crop_img=img, crop_boxes=boxes))

    def student_view(self, source, target: Branch, pseudo_labels: PseudoLabels) -> StudentView:
        """The cropped image (strongly augmented when configured) and its labels."""
        cropped = Branch(pseudo_labels.extras['crop_img'], target.samples)
        return super().student_view(source, cropped, pseudo_labels)
