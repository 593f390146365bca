"""Class prototypes (centroids) in a segmenter's feature space: initialisation, EMA updates, labels.

ProDA (arXiv:2101.10979) and DiGA (arXiv:2304.02222, Sec. 3.3) keep one centroid per class in the
256-d feature space of the decode head. DiGA:

* **initialisation** (its ``calc_centroids``): the warm-up model runs over the target train images;
  for each image and each class c with at least ``min_pixels`` argmax pixels, the masked mean of the
  features enters a running mean whose count is capped at ``max_count`` (3000);
* **update** during self-training: ``mu_c <- (1 - m) mu_c + m v_c`` with m = 1e-4 and v_c a
  batch class-mean feature (:meth:`ema_update`);
* **labels**: ``softmax(-||f - mu_c||_2)`` over classes, nearest prototype = argmax.

The centroids are buffers: as part of the model's ``aux`` they are in every checkpoint and a
resumed run continues with exactly the saved values.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

IGNORE_INDEX = 255


def class_means(feats: Tensor, labels: Tensor, num_classes: int,
                min_pixels: int = 1) -> Tuple[Tensor, Tensor]:
    """Per-image, per-class mean features.

    Args:
        feats (Tensor): [B, D, h, w] features.
        labels (Tensor): [B, h, w] int labels at the feature resolution (255 or any value outside
            [0, C) is ignored).
        num_classes (int): C.
        min_pixels (int): A class needs at least this many pixels in an image to count.

    Returns:
        tuple: means [B, C, D] (0 where absent) and present [B, C] bool.
    """
    b, d = feats.shape[:2]
    labels = labels.reshape(b, -1).long()
    valid = (labels >= 0) & (labels < num_classes)
    onehot = F.one_hot(labels.clamp(0, num_classes - 1), num_classes).float()
    onehot = onehot * valid.unsqueeze(-1)  # [B, N, C]
    counts = onehot.sum(1)  # [B, C]
    sums = torch.bmm(onehot.transpose(1, 2), feats.reshape(b, d, -1).transpose(1, 2).float())
    means = sums / counts.clamp(min=1).unsqueeze(-1)
    return means, counts >= max(min_pixels, 1)


@MODELS.register_module()
class ClassPrototypes(nn.Module):
    """Class centroids with DiGA's initialisation and EMA update (module docstring).

    Args:
        num_classes (int): C.
        feat_dim (int): D, the decode head's feature channels (256 for ProDAHead on R101).
        momentum (float): m of the EMA update. Defaults to 1e-4 (DiGA).
        min_pixels (int): Pixels a class needs in an image to contribute at initialisation.
            Defaults to 5.
        max_count (int): Cap of the running-mean count at initialisation. Defaults to 3000.

    Buffers (checkpointed): ``centroids`` [C, D], ``counts`` [C] (initialisation counts),
    ``initialized`` (0-d bool: whether :meth:`finish_init` ran).
    """

    def __init__(self, num_classes: int, feat_dim: int, momentum: float = 1e-4,
                 min_pixels: int = 5, max_count: int = 3000):
        super().__init__()
        if not 0 < momentum <= 1:
            raise ValueError(f'ClassPrototypes: momentum must be in (0, 1], got {momentum}')
        self.num_classes = int(num_classes)
        self.feat_dim = int(feat_dim)
        self.momentum = float(momentum)
        self.min_pixels = int(min_pixels)
        self.max_count = int(max_count)
        self.register_buffer('centroids', torch.zeros(num_classes, feat_dim))
        self.register_buffer('counts', torch.zeros(num_classes))
        self.register_buffer('initialized', torch.tensor(False))

    # ------------------------------------------------------------------ checkpoints
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + 'centroids'
        if key in state_dict and tuple(state_dict[key].shape) != tuple(self.centroids.shape):
            raise ValueError(
                f'the checkpoint\'s prototypes {key} have shape {tuple(state_dict[key].shape)} '
                f'(classes, feature size) but the model\'s ClassPrototypes has '
                f'{tuple(self.centroids.shape)} (num_classes={self.num_classes}, '
                f'feat_dim={self.feat_dim}): the checkpoint is from another class set or head')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def start_init(self) -> None:
        """Forget everything (before the initialisation passes)."""
        self.centroids.zero_()
        self.counts.zero_()
        self.initialized.fill_(False)

    @torch.no_grad()
    def accumulate(self, feats: Tensor, labels: Tensor) -> None:
        """One initialisation batch: every image's class means enter the capped running mean.

        Args:
            feats (Tensor): [B, D, h, w] features of the warm-up model.
            labels (Tensor): [B, h, w] its argmax labels at the feature resolution.
        """
        self._check_feats(feats)
        means, present = class_means(feats, labels, self.num_classes, self.min_pixels)
        for i in range(means.shape[0]):  # images in order: a running mean, as DiGA
            cls = present[i].nonzero().squeeze(1)
            if cls.numel() == 0:
                continue
            n = self.counts[cls]
            self.centroids[cls] = (self.centroids[cls] * n.unsqueeze(1) + means[i, cls]) \
                / (n + 1).unsqueeze(1)
            self.counts[cls] = (n + 1).clamp(max=self.max_count)

    @torch.no_grad()
    def finish_init(self) -> None:
        """Mark the prototypes initialised (classes never seen keep a zero centroid).

        Under DDP each rank has seen its shard of the images: the ranks' centroids are averaged,
        weighted by their counts (the capped counts add up, capped again), so every rank ends
        with the same prototypes.
        """
        from mmengine import dist
        if dist.get_world_size() > 1:
            weighted = self.centroids * self.counts.unsqueeze(1)
            counts = self.counts.clone()
            dist.all_reduce(weighted)
            dist.all_reduce(counts)
            self.centroids.copy_(weighted / counts.clamp(min=1).unsqueeze(1))
            self.counts.copy_(counts.clamp(max=self.max_count))
        self.initialized.fill_(True)

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def ema_update(self, feats: Tensor, labels: Tensor) -> Tensor:
        """``mu_c <- (1 - m) mu_c + m v_c`` for each class present in the batch.

        Args:
            feats (Tensor): [B, D, h, w] (teacher) features.
            labels (Tensor): [B, h, w] class per pixel at the feature resolution, 255 where a
                pixel must not contribute (the caller's mask).

        Returns:
            Tensor: [C] bool, the classes updated.
        """
        self._check_feats(feats)
        b, d = feats.shape[:2]
        flat = feats.permute(1, 0, 2, 3).reshape(d, -1).float()
        means, present = class_means(flat.view(1, d, -1, 1), labels.reshape(1, -1, 1),
                                     self.num_classes)
        cls = present[0].nonzero().squeeze(1)
        self.centroids[cls] = (1 - self.momentum) * self.centroids[cls] \
            + self.momentum * means[0, cls]
        return present[0]

    def distances(self, feats: Tensor) -> Tensor:
        """[B, C, h, w] Euclidean distances of ``feats`` [B, D, h, w] to every centroid."""
        self._check_feats(feats)
        f = feats.float()
        c = self.centroids.float()
        sq = (f ** 2).sum(1, keepdim=True) - 2 * torch.einsum('bdhw,cd->bchw', f, c) \
            + (c ** 2).sum(1).view(1, -1, 1, 1)
        return sq.clamp(min=0).sqrt()

    def probs(self, feats: Tensor) -> Tensor:
        """``softmax(-distance)`` over classes, [B, C, h, w].

        Classes that no image contributed to at initialisation (``counts == 0``: their centroid
        is a placeholder at the origin, as in DiGA's code) get probability 0, so they can never be
        the nearest prototype; if no class has one, every class counts.
        """
        logits = -self.distances(feats)
        seen = self.counts > 0
        if bool(seen.any()) and not bool(seen.all()):
            logits = logits.masked_fill(~seen.view(1, -1, 1, 1), float('-inf'))
        return logits.softmax(1)

    def _check_feats(self, feats: Tensor) -> None:
        if feats.dim() != 4 or feats.shape[1] != self.feat_dim:
            raise ValueError(f'ClassPrototypes(feat_dim={self.feat_dim}) got features of shape '
                             f'{tuple(feats.shape)}; expected [B, {self.feat_dim}, h, w] (the '
                             'decode head\'s feature channels)')

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, feat_dim={self.feat_dim}, '
                f'momentum={self.momentum}')
