"""Per-class feature statistics (running mean, diagonal covariance, memory bank) for prototype
contrast (SePiCo's ``ProtoEstimator``, used by ATP's Propagate step, arXiv:2106.11653)."""
import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class PrototypeEstimator(nn.Module):
    """Count-weighted running mean and diagonal covariance of each class's embeddings.

    For the ``n_k`` new features of class k with batch mean ``m_k`` and (biased) variance ``v_k``,
    and ``N_k`` features seen so far, with ``w = n_k / (N_k + n_k)``:

        mean_k <- (1 - w) mean_k + w m_k
        var_k  <- (1 - w) var_k + w v_k + w (1 - w) (mean_k - m_k)^2
        N_k    <- N_k + n_k

    i.e. the exact mean and variance of every feature seen (the parallel-variance update), as the
    count-based weights of the public code. With ``memory_length > 0`` each class also keeps its
    last ``memory_length`` batch means in a ring buffer (the public code's per-class deque; its
    configs leave it at 0, i.e. no bank).

    All state is in buffers (saved with the model, exact on resume; under DDP the features of
    every rank should be gathered by the caller before :meth:`update` if ranks must agree).

    Args:
        num_classes (int): C.
        channels (int): D, the embedding size.
        memory_length (int): Batch means kept per class; 0: none. Defaults to 0.
        ignore_index (int): Label of pixels that update nothing. Defaults to 255.
    """

    def __init__(self, num_classes: int, channels: int, memory_length: int = 0,
                 ignore_index: int = 255):
        super().__init__()
        if num_classes < 1 or channels < 1 or memory_length < 0:
            raise ValueError('num_classes and channels must be >= 1 and memory_length >= 0, got '
                             f'{num_classes}, {channels}, {memory_length}')
        self.num_classes, self.channels = num_classes, channels
        self.memory_length, self.ignore_index = memory_length, ignore_index
        self.register_buffer('mean', torch.zeros(num_classes, channels))
        self.register_buffer('var', torch.zeros(num_classes, channels))
        self.register_buffer('count', torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer('memory', torch.zeros(num_classes, memory_length, channels))
        self.register_buffer('memory_ptr', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('memory_fill', torch.zeros(num_classes, dtype=torch.long))

    @property
    def seen(self) -> Tensor:
        """[C] bool, classes with at least one feature."""
        return self.count > 0

    @torch.no_grad()
    def update(self, feats: Tensor, labels: Tensor) -> None:
        """Add features with their labels.

        Args:
            feats (Tensor): [N, D] features (detached here).
            labels (Tensor): [N] int class ids; ``ignore_index`` (or any id outside [0, C)) is
                skipped.
        """
        if feats.dim() != 2 or feats.shape[1] != self.channels:
            raise ValueError(f'feats must be [N, {self.channels}], got {tuple(feats.shape)}')
        feats = feats.detach().to(self.mean.dtype)
        keep = (labels >= 0) & (labels < self.num_classes)
        feats, labels = feats[keep], labels[keep].long()
        if not labels.numel():
            return
        n = torch.bincount(labels, minlength=self.num_classes).to(feats.dtype)  # [C]
        sums = torch.zeros_like(self.mean).index_add_(0, labels, feats)
        sq = torch.zeros_like(self.mean).index_add_(0, labels, feats * feats)
        present = n > 0
        m = sums[present] / n[present, None]
        v = (sq[present] / n[present, None] - m * m).clamp(min=0)
        w = (n[present] / (self.count[present].to(feats.dtype) + n[present]))[:, None]
        old = self.mean[present]
        self.mean[present] = (1 - w) * old + w * m
        self.var[present] = (1 - w) * self.var[present] + w * v + w * (1 - w) * (old - m) ** 2
        self.count += n.to(self.count.dtype)
        if self.memory_length:
            for c in present.nonzero().flatten().tolist():
                self.memory[c, self.memory_ptr[c]] = sums[c] / n[c]
                self.memory_ptr[c] = (self.memory_ptr[c] + 1) % self.memory_length
                self.memory_fill[c] = torch.clamp(self.memory_fill[c] + 1, max=self.memory_length)

    def forward(self, feats: Tensor, labels: Tensor) -> None:
        """Same as :meth:`update` (so the module can be called)."""
        self.update(feats, labels)
