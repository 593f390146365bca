"""DAFormer (self-training with an ImageNet feature distance) and MIC (masked image consistency)."""
from typing import Dict, Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base_adaptation_segmentor import Branch, StudentView, stack_labels
from .self_training_segmentor import SelfTrainingSegmentor
from .student_outputs import StudentOutputs


@MODELS.register_module()
class DAFormerSegmentor(SelfTrainingSegmentor):
    """DACS-style self-training plus DAFormer's thing-class ImageNet feature distance.

    Hoyer et al., DAFormer, CVPR 2022, arXiv:2111.14887, Sec. 3.3, Eq. 7-8: on source images the
    student's last backbone features are kept close (L2, thing-class pixels only) to those of a
    frozen copy of the backbone with its ImageNet weights (``aux.imnet``: initialised from the
    student's backbone in :meth:`init_weights`, kept in eval mode, saved in checkpoints so a
    resume keeps it). A run started from a plain segmentor checkpoint (``load_from`` a source
    model, e.g. on the toy benchmark where there are no ImageNet weights) takes that checkpoint's
    backbone as the reference instead: the distance then keeps the features near the model the
    adaptation started from (a reconstruction for that case; DAFormer itself starts from ImageNet). Everything else (EMA teacher in train mode,
    DACS pseudo-weight, ClassMix, strong augmentation) is the :class:`SelfTrainingSegmentor`
    composition of the config.

    Args:
        feature_distance (dict, optional): A ``FeatureDistanceLoss`` config; None: no FD.
        **kwargs: See :class:`SelfTrainingSegmentor`.
    """

    def __init__(self, feature_distance: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.feature_distance = MODELS.build(feature_distance) if feature_distance else None
        if self.feature_distance is not None:
            if self.setting != 'uda':
                raise ValueError('the ImageNet feature distance is computed on source images: '
                                 'setting must be "uda"')
            self.aux['imnet'] = MODELS.build(dict(kwargs['student']['backbone']))
            self.aux['imnet'].requires_grad_(False)

    def init_weights(self):
        super().init_weights()
        if self.feature_distance is not None:  # the student's backbone holds ImageNet weights now
            self.aux['imnet'].load_state_dict(self.student.backbone.state_dict())

    def map_checkpoint_keys(self, state_dict, prefix=''):
        if self.feature_distance is not None and not any(
                k.startswith(f'{prefix}aux.imnet.') for k in state_dict):
            for k in [k for k in state_dict if k.startswith(f'{prefix}backbone.')]:
                state_dict[f'{prefix}aux.imnet.{k[len(prefix) + len("backbone."):]}'] = \
                    state_dict[k]
        return super().map_checkpoint_keys(state_dict, prefix)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.feature_distance is not None:
            self.aux['imnet'].eval()  # a fixed reference: no BN updates, no dropout
        return self

    def source_loss(self, source: Branch) -> Tuple[Dict[str, Tensor], Optional[StudentOutputs]]:
        if self.feature_distance is None:
            return super().source_loss(source)
        losses, out = self.supervised_outputs(source.img, source.samples)
        with torch.no_grad():  # on the image the features came from (HRDA: the context view)
            ref = self.aux['imnet'](out.backbone_input)[-1]
        losses[self.feature_distance.loss_name] = self.feature_distance(
            out.backbone_feats[-1], ref, stack_labels(source.samples), self.num_classes)
        return losses, None


@MODELS.register_module()
class MICSegmentor(DAFormerSegmentor):
    """DAFormer plus MIC's masked image consistency.

    Hoyer et al., MIC, CVPR 2023, arXiv:2212.01322, Sec. 3.2, Eq. 4-5: the student also sees the
    (unmixed) target image, strongly augmented and with random patches dropped, and is trained
    with the same pseudo-labels and weights as the mixed view (``tgt.masked.*`` losses, weight
    ``mask_loss_weight``, MIC: 1).

    Args:
        masking (dict): A ``PatchMasking`` config (MIC: 64x64 patches, ratio 0.7).
        mask_loss_weight (float): lambda_m. Defaults to 1.0.
        **kwargs: See :class:`DAFormerSegmentor`.
    """

    def __init__(self, masking: dict, mask_loss_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.masking = MODELS.build(masking)
        self.mask_loss_weight = mask_loss_weight
        self._unmixed: Optional[StudentView] = None

    def student_view(self, source, target, pseudo_labels) -> StudentView:
        self._unmixed = StudentView(target.img, pseudo_labels)  # read by target_loss below
        return super().student_view(source, target, pseudo_labels)

    def target_loss(self, outputs, pseudo_labels, target) -> Dict[str, Tensor]:
        losses = super().target_loss(outputs, pseudo_labels, target)
        img, labels = self._unmixed
        self._unmixed = None
        if self.strong_augment is not None:
            img = self.strong_augment(img, mean=self.data_preprocessor.mean.view(-1),
                                      std=self.data_preprocessor.std.view(-1))
        masked = self.student_forward(self.masking(img))
        for name, value in super().target_loss(masked, labels, target).items():
            losses[f'masked.{name}'] = self.mask_loss_weight * value
        return losses
