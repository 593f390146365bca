"""Symmetric (cross-view) knowledge distillation between a clean and a mixed view (DiGA).

DiGA (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.2, "symmetric knowledge distillation")
feeds the student S and its EMA teacher T the two views of each source image, the clean image and
its cross-domain mixture, and distils every view of the teacher into the *other* view of the
student (DINO-style: same-view pairs are skipped):

    KD = w_cm * CE(softmax(T(clean)), S(mixed)) + w_mc * CE(softmax(T(mixed)), S(clean))

with the soft cross-entropy ``CE(p, z) = mean_pixels(-sum_c p_c * log_softmax(z)_c)``, the teacher
detached, and ``(w_cm, w_mc) = (1, 0.5)`` (DiGA's public code: the teacher-mixed term is scaled by
0.5). No temperature.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

IGNORE_INDEX = 255


def soft_cross_entropy(teacher_logits: Tensor, student_logits: Tensor,
                       valid: Optional[Tensor] = None) -> Tensor:
    """``mean over pixels of -sum_c softmax(teacher)_c * log_softmax(student)_c``.

    Args:
        teacher_logits (Tensor): [B, C, H, W] (no gradient flows into it).
        student_logits (Tensor): [B, C, H, W].
        valid (Tensor, optional): [B, H, W] bool; the mean runs over these pixels only (0 if none).

    Returns:
        Tensor: scalar.
    """
    p = teacher_logits.detach().float().softmax(1)
    ce = -(p * F.log_softmax(student_logits.float(), dim=1)).sum(1)  # [B, H, W]
    if valid is None:
        return ce.mean()
    valid = valid.to(ce.dtype)
    return (ce * valid).sum() / valid.sum().clamp(min=1.0)


def symmetric_kd_loss(student_clean: Tensor, student_mixed: Tensor, teacher_clean: Tensor,
                      teacher_mixed: Tensor, weights: Sequence[float] = (1.0, 0.5),
                      valid: Optional[Tensor] = None) -> Tensor:
    """Cross-view distillation, see the module docstring.

    Args:
        student_clean, student_mixed (Tensor): [B, C, H, W] student logits of the two views.
        teacher_clean, teacher_mixed (Tensor): [B, C, H, W] teacher logits (detached here).
        weights (tuple[float, float]): (teacher-clean -> student-mixed, teacher-mixed ->
            student-clean). Defaults to (1.0, 0.5).
        valid (Tensor, optional): [B, H, W] bool pixels to average over (ignore-255 masking);
            the two views share the geometry, so one mask serves both terms.

    Returns:
        Tensor: scalar.
    """
    shapes = {tuple(t.shape) for t in (student_clean, student_mixed, teacher_clean, teacher_mixed)}
    if len(shapes) != 1 or student_clean.dim() != 4:
        raise ValueError(f'symmetric_kd_loss needs four [B, C, H, W] logits of one shape, got '
                         f'{sorted(shapes)}')
    if len(weights) != 2:
        raise ValueError(f'weights must be (w_clean_to_mixed, w_mixed_to_clean), got {weights!r}')
    return (weights[0] * soft_cross_entropy(teacher_clean, student_mixed, valid)
            + weights[1] * soft_cross_entropy(teacher_mixed, student_clean, valid))


@MODELS.register_module()
class SymmetricKDLoss(nn.Module):
    """DiGA's symmetric distillation between a clean and a mixed view (module docstring).

    Called with the student's and the teacher's logits of the **stacked** views
    ``[clean; mixed]`` (``2B`` images, the clean batch first), as DiGA runs both networks on one
    concatenated batch.

    Args:
        weights (tuple[float, float]): (teacher-clean -> student-mixed, teacher-mixed ->
            student-clean). Defaults to (1.0, 0.5) (DiGA).
        ignore_index (int, optional): With labels given, pixels of this label are left out of the
            mean (a variant commented out in DiGA's code). None (default, DiGA): every pixel.
        loss_weight (float): lambda_KD: 0.5 (GTA5 warm-up), 0.25 (SYNTHIA warm-up and every
            self-training stage). Defaults to 1.0.
        loss_name (str): Defaults to 'loss_kd'.
    """

    def __init__(self, weights: Sequence[float] = (1.0, 0.5), ignore_index: Optional[int] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_kd'):
        super().__init__()
        if len(weights) != 2:
            raise ValueError(f'SymmetricKDLoss: weights must be two numbers (clean->mixed, '
                             f'mixed->clean), got {weights!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.weights = tuple(float(w) for w in weights)
        self.ignore_index = ignore_index
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                labels: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            student_logits (Tensor): [2B, C, H, W] student logits of ``[clean; mixed]``.
            teacher_logits (Tensor): [2B, C, H, W] teacher logits of the same views.
            labels (Tensor, optional): [B, H, W] labels of the clean images (shared by the mixed
                view); used only with ``ignore_index``.

        Returns:
            Tensor: ``loss_weight * KD``.
        """
        if student_logits.shape != teacher_logits.shape or student_logits.shape[0] % 2:
            raise ValueError(f'SymmetricKDLoss: student and teacher logits of the stacked views '
                             f'[clean; mixed] (2B images) are expected, got '
                             f'{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}')
        s_clean, s_mixed = student_logits.chunk(2)
        t_clean, t_mixed = teacher_logits.chunk(2)
        valid = None
        if self.ignore_index is not None:
            if labels is None:
                raise ValueError('SymmetricKDLoss(ignore_index=...) needs the labels')
            if labels.shape != (s_clean.shape[0], *s_clean.shape[2:]):
                raise ValueError(f'labels must be [B, H, W] = {(s_clean.shape[0], *s_clean.shape[2:])}'
                                 f', got {tuple(labels.shape)}')
            valid = labels != self.ignore_index
        return self.loss_weight * symmetric_kd_loss(s_clean, s_mixed, t_clean, t_mixed,
                                                    self.weights, valid)
