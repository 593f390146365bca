"""KL divergence to soft targets stored with the samples (ATP's black-box distillation).

In ATP's black-box setting (arXiv:2106.11653) a fresh target model first learns from the source
model's predictions on the target images: ``L = (1/N) sum_i KL(q_i || p_i)`` with ``q`` the source
probabilities (read from files, packed as each data sample's ``source_probs``) and ``p`` the
student's softmax, over the N = B*H*W pixels.
"""
import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor


def soft_target_kl_loss(seg_logits: Tensor, targets: Tensor, eps: float = 1e-8) -> Tensor:
    """``mean_i sum_c q_ic (log q_ic - log p_ic)``.

    Args:
        seg_logits (Tensor): Student logits, (B, C, H, W).
        targets (Tensor): Target probabilities q, (B, C, H, W), each pixel summing to 1 (pixels
            whose targets sum to 0, e.g. padding, count as 0).
        eps (float): Added inside ``log q`` (float16 files hold exact zeros).

    Returns:
        Tensor: Scalar loss, >= 0.
    """
    if targets.shape != seg_logits.shape:
        raise ValueError(f'targets {tuple(targets.shape)} and logits {tuple(seg_logits.shape)} '
                         'must have the same shape')
    logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
    q = targets.to(logits.dtype)
    kl = (q * ((q + eps).log() - logits.log_softmax(1))).sum(1)
    return kl.mean()


@MODELS.register_module()
class SoftTargetKLLoss(nn.Module):
    """KL to the samples' ``source_probs`` (a target loss of the distillation stage).

    Args:
        loss_weight (float): Multiplier. Defaults to 1.0.
        loss_name (str): Key in the loss dict. Defaults to 'loss_kl'.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_kl'):
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, seg_logits: Tensor, pseudo_labels=None, data_samples=None, **ctx) -> Tensor:
        """Args: seg_logits (B, C, H, W); data_samples with ``source_probs`` [C, h, w] each
        (padded with 0 to H, W)."""
        if not data_samples or not all('source_probs' in s for s in data_samples):
            raise ValueError('SoftTargetKLLoss needs each target sample\'s source_probs: load them '
                             'with LoadSourcePredictions (a "probs" directory) and pack with '
                             'PackSegInputsWithSourcePredictions')
        b, c, h, w = seg_logits.shape
        targets = seg_logits.new_zeros(b, c, h, w, dtype=torch.float32)
        for i, s in enumerate(data_samples):
            q = s.source_probs.data
            targets[i, :, :q.shape[1], :q.shape[2]] = q.to(targets.device)
        return self.loss_weight * soft_target_kl_loss(seg_logits, targets)

    @property
    def loss_name(self) -> str:
        return self._loss_name
