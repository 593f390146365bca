"""Curriculum-style entropy minimisation, ATP's Align step (Wang, Liang, Zhang, arXiv:2106.11653).

ATP aligns target features with the unseen source features *implicitly*: the source classifier is
frozen and the feature extractor minimises the entropy of the predictions, easy pixels first
(arXiv:2106.11653, Sec. 3, "curriculum-style entropy minimization"). The paper's exact selection
rule and schedule are not public; this is a reconstruction ("ATP, re-implemented"):

    Hn_i = -sum_c p_ic log p_ic / log C                     (normalised per-pixel entropy, [0, 1])
    rho(t) = rho_0 + (1 - rho_0) * min(1, t / rho_iters)     (``schedule='linear'``)
    S(t) = the ceil(rho(t) * N) pixels of lowest Hn          (``select='batch'``; or per class of
                                                             the argmax, ``select='class'``)
    L_A = (1/|S|) sum_{i in S} g(Hn_i) + div_weight * sum_c pbar_c log pbar_c

with ``g(h) = h`` or, with ``eta``, the robust (Charbonnier) entropy ``g(h) = (h^2 + 1e-8)^eta``
of FDA / Cal-SFDA, and ``pbar`` the batch-mean prediction (the diversity term of SHOT, optional).
``t`` counts the loss's training calls (a buffer, so it is in the checkpoint and exact on resume);
``schedule='step'`` jumps from rho_0 to 1 at ``rho_iters`` and ``'constant'`` keeps rho_0
(``rho_0=1`` is plain entropy minimisation over all pixels, the ablation).
"""
import math

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS

from .entropy_loss import entropy_map

SCHEDULES = ('linear', 'step', 'constant')
SELECTS = ('batch', 'class')


def curriculum_rho(step: int, rho_0: float, rho_iters: int, schedule: str = 'linear') -> float:
    """The fraction rho(t) of easiest pixels trained at step ``t`` (see the module docstring)."""
    if schedule not in SCHEDULES:
        raise ValueError(f'schedule must be one of {SCHEDULES}, got {schedule!r}')
    if schedule == 'constant':
        return rho_0
    if schedule == 'step':
        return rho_0 if step < rho_iters else 1.0
    return rho_0 + (1.0 - rho_0) * min(1.0, step / max(rho_iters, 1))


def easiest_mask(ent: Tensor, rho: float, select: str = 'batch',
                 labels: Tensor = None, num_classes: int = 0) -> Tensor:
    """Boolean mask of the ``rho`` fraction of pixels with the lowest entropy.

    Args:
        ent (Tensor): Per-pixel entropy, shape (B, H, W).
        rho (float): Fraction in (0, 1].
        select (str): ``'batch'``: the ceil(rho * N) lowest over all N pixels of the batch;
            ``'class'``: per class of ``labels``, the ceil(rho * N_k) lowest of its N_k pixels (so
            rare classes keep their share, CBST-style).
        labels (Tensor, optional): (B, H, W) argmax classes, needed for ``'class'``.
        num_classes (int): C, for ``'class'``.

    Returns:
        Tensor: (B, H, W) bool. Ties at the cut are broken by :func:`torch.sort` (stable).
    """
    flat = ent.detach().reshape(-1)
    if rho >= 1.0:
        return torch.ones_like(ent, dtype=torch.bool)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if select == 'batch':
        k = max(1, math.ceil(rho * flat.numel()))
        mask[flat.argsort(stable=True)[:k]] = True
        return mask.view_as(ent)
    lab = labels.reshape(-1)
    for c in range(num_classes):
        idx = (lab == c).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        k = max(1, math.ceil(rho * idx.numel()))
        mask[idx[flat[idx].argsort(stable=True)[:k]]] = True
    return mask.view_as(ent)


def curriculum_entropy_loss(seg_logits: Tensor, rho: float, select: str = 'batch',
                            eta: float = None, div_weight: float = 0.0) -> Tensor:
    """L_A of the module docstring for one batch.

    Args:
        seg_logits (Tensor): Logits, shape (B, C, H, W). Computed in float32 at least.
        rho (float): Fraction of easiest pixels kept, in (0, 1].
        select (str): ``'batch'`` or ``'class'``, see :func:`easiest_mask`.
        eta (float, optional): Charbonnier exponent of the robust form; None: plain entropy.
        div_weight (float): Weight of the diversity term ``sum_c pbar_c log pbar_c`` (<= 0 when
            the prediction is diverse); 0 turns it off.

    Returns:
        Tensor: Scalar loss.
    """
    ent = entropy_map(seg_logits, normalize=True)  # (B, H, W) in [0, 1]
    labels = seg_logits.detach().argmax(1) if select == 'class' else None
    mask = easiest_mask(ent, rho, select, labels, seg_logits.shape[1])
    if eta is not None:
        ent = (ent.pow(2) + 1e-8).pow(eta)
    loss = ent[mask].mean()
    if div_weight:
        logits = seg_logits.to(torch.promote_types(seg_logits.dtype, torch.float32))
        num_classes = logits.shape[1]
        log_p = logits.transpose(0, 1).reshape(num_classes, -1).log_softmax(dim=0)  # (C, N)
        log_mean = torch.logsumexp(log_p, dim=1) - math.log(log_p.shape[1])  # (C,)
        loss = loss + div_weight * (log_mean.exp() * log_mean).sum()
    return loss


@MODELS.register_module()
class CurriculumEntropyLoss(nn.Module):
    """ATP's curriculum entropy minimisation (Align), a target loss (no pseudo-labels needed).

    Args:
        rho_0 (float): Fraction of easiest pixels at the start, in (0, 1]. Defaults to 0.2 [U].
        rho_iters (int): Training calls until rho reaches 1 (``'linear'``) or jumps to 1
            (``'step'``). Set it to the stage's iterations. Defaults to 1000.
        schedule (str): ``'linear'``, ``'step'`` or ``'constant'``. Defaults to 'linear' [U].
        select (str): ``'batch'`` or ``'class'``. Defaults to 'batch' [U].
        eta (float, optional): Robust-entropy exponent (FDA / Cal-SFDA use 2.0). Defaults to None.
        div_weight (float): Weight of the diversity term. Defaults to 0.0 [U].
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict. Defaults to 'loss_curriculum_entropy'.

    State: ``step`` (a long buffer) counts the calls made in training mode; it is saved with the
    model, so a resumed run continues the schedule where it stopped.
    """

    def __init__(self,
                 rho_0: float = 0.2,
                 rho_iters: int = 1000,
                 schedule: str = 'linear',
                 select: str = 'batch',
                 eta: float = None,
                 div_weight: float = 0.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_curriculum_entropy'):
        super().__init__()
        if not 0.0 < rho_0 <= 1.0:
            raise ValueError(f'rho_0 must be in (0, 1], got {rho_0}')
        if rho_iters < 1:
            raise ValueError(f'rho_iters must be >= 1, got {rho_iters}')
        if schedule not in SCHEDULES:
            raise ValueError(f'schedule must be one of {SCHEDULES}, got {schedule!r}')
        if select not in SELECTS:
            raise ValueError(f'select must be one of {SELECTS}, got {select!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.rho_0, self.rho_iters, self.schedule, self.select = rho_0, rho_iters, schedule, select
        self.eta, self.div_weight, self.loss_weight = eta, div_weight, loss_weight
        self._loss_name = loss_name
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    @property
    def rho(self) -> float:
        """rho(t) at the current step."""
        return curriculum_rho(int(self.step), self.rho_0, self.rho_iters, self.schedule)

    def forward(self, seg_logits: Tensor, pseudo_labels=None, **ctx) -> Tensor:
        """``loss_weight * L_A`` at the current rho; advances the step in training mode.

        Args:
            seg_logits (Tensor): Student logits, shape (B, C, H, W).
            pseudo_labels (PseudoLabels, optional): Not used.
            **ctx: Other context of the segmentor's step, not used.

        Returns:
            Tensor: Scalar loss.
        """
        loss = curriculum_entropy_loss(seg_logits, self.rho, self.select, self.eta,
                                       self.div_weight)
        if self.training:
            self.step += 1
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
