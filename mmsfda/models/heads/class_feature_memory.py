"""Per-class memory of key embeddings: source class prototypes and optional per-class key queues."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..losses.t2s_contrastive_loss import class_balanced_indices

#: Index of each domain in the queue buffers.
DOMAINS = ('source', 'target')


@MODELS.register_module()
class ClassFeatureMemory(nn.Module):
    """Source class prototypes (optionally EMA-smoothed) and per-class FIFO queues of keys.

    Everything is a buffer, so checkpoints hold it and a resume continues exactly.

    Prototypes (T2S-DA, arXiv:2305.13752; the smoothing is a reconstruction): the batch prototype of
    class c is the L2-normalised mean of the key embeddings labelled c; with
    ``prototype_momentum = m > 0`` the stored prototype becomes ``normalize(m * p_c + (1 - m) *
    batch_c)`` once it exists (the first batch with class c sets it). A class absent from the batch
    keeps its stored prototype; one never seen has none (``valid[c]`` False).

    Queues (``queue_size > 0``): per domain and class, the last ``queue_size`` keys pushed; each push
    adds up to ``queue_push`` randomly chosen keys per class (so a frequent class cannot flush the
    queue of another), overwriting the oldest.

    Args:
        num_classes (int): C.
        channels (int): Embedding size D.
        prototype_momentum (float): m in [0, 1); 0: the batch prototypes only. Defaults to 0.99.
        queue_size (int): Keys kept per domain and class; 0: no queue. Defaults to 0.
        queue_push (int): Keys pushed per class and step. Defaults to 64.
    """

    def __init__(self, num_classes: int, channels: int, prototype_momentum: float = 0.99,
                 queue_size: int = 0, queue_push: int = 64):
        super().__init__()
        if not 0 <= prototype_momentum < 1:
            raise ValueError(f'prototype_momentum must be in [0, 1), got {prototype_momentum}')
        if queue_size < 0 or queue_push < 1:
            raise ValueError(f'queue_size must be >= 0 and queue_push >= 1, got {queue_size}, '
                             f'{queue_push}')
        self.num_classes = num_classes
        self.channels = channels
        self.prototype_momentum = prototype_momentum
        self.queue_size = queue_size
        self.queue_push = min(queue_push, queue_size) if queue_size else queue_push
        self.register_buffer('prototypes', torch.zeros(num_classes, channels))
        self.register_buffer('prototype_valid', torch.zeros(num_classes, dtype=torch.bool))
        q = max(queue_size, 1)  # a 1-slot dummy keeps the state dict's keys independent of it
        self.register_buffer('queue', torch.zeros(len(DOMAINS), num_classes, q, channels))
        self.register_buffer('queue_len', torch.zeros(len(DOMAINS), num_classes, dtype=torch.long))
        self.register_buffer('queue_ptr', torch.zeros(len(DOMAINS), num_classes, dtype=torch.long))

    def _check(self, keys: Tensor, labels: Tensor):
        if keys.dim() != 2 or keys.shape[1] != self.channels or labels.shape != keys.shape[:1]:
            raise ValueError(f'{type(self).__name__}: keys must be [N, {self.channels}] and labels '
                             f'[N], got {tuple(keys.shape)} and {tuple(labels.shape)}')

    @torch.no_grad()
    def update_prototypes(self, keys: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Fold a batch of keys into the prototypes.

        Args:
            keys (Tensor): [N, D] unit-norm key embeddings (no gradient needed).
            labels (Tensor): [N] int64 class ids in [0, C) (ignored pixels already removed).

        Returns:
            tuple: prototypes [C, D] (a copy: later updates do not touch it) and valid [C] bool.
        """
        self._check(keys, labels)
        keys = keys.detach().to(self.prototypes.dtype)
        counts = torch.bincount(labels, minlength=self.num_classes)
        sums = torch.zeros_like(self.prototypes).index_add_(0, labels, keys)
        present = counts > 0
        batch = F.normalize(sums / counts.clamp(min=1).unsqueeze(1), dim=1)
        m = self.prototype_momentum
        smooth = present & self.prototype_valid if m > 0 else torch.zeros_like(present)
        new = torch.where(smooth.unsqueeze(1),
                          F.normalize(m * self.prototypes + (1 - m) * batch, dim=1), batch)
        self.prototypes.copy_(torch.where(present.unsqueeze(1), new, self.prototypes))
        self.prototype_valid |= present
        return self.prototypes.clone(), self.prototype_valid.clone()

    @torch.no_grad()
    def push(self, domain: str, keys: Tensor, labels: Tensor) -> None:
        """Add up to ``queue_push`` keys per class to ``domain``'s queues (no-op without queues)."""
        if not self.queue_size:
            return
        self._check(keys, labels)
        d = DOMAINS.index(domain)
        idx, mask = class_balanced_indices(labels, self.queue_push, self.num_classes)  # [C, K]
        cls, rank = mask.nonzero(as_tuple=True)
        pos = (self.queue_ptr[d, cls] + rank) % self.queue_size
        self.queue[d, cls, pos] = keys.detach().to(self.queue.dtype)[idx[cls, rank]]
        added = mask.sum(1)
        self.queue_ptr[d] = (self.queue_ptr[d] + added) % self.queue_size
        self.queue_len[d] = (self.queue_len[d] + added).clamp(max=self.queue_size)

    def pool(self, domain: str) -> Tuple[Tensor, Tensor]:
        """The queued keys of ``domain``: keys [M, D] and their class ids [M]."""
        d = DOMAINS.index(domain)
        filled = torch.arange(self.queue.shape[2], device=self.queue.device) < \
            self.queue_len[d].unsqueeze(1)  # [C, Q]
        labels = torch.arange(self.num_classes, device=filled.device).unsqueeze(1).expand_as(filled)
        return self.queue[d][filled], labels[filled]
