"""Pixel-to-prototype contrast, ATP's Propagate loss on hard target images (SePiCo's ProtoCL).

ATP's public code (arXiv:2106.11653; SePiCo lineage) trains a projection head so that each
pixel's embedding is closest to its (pseudo-)class's prototype: logits are similarities to every
class prototype divided by a temperature, and a cross-entropy to the pseudo-label follows,

    s_ik = <f_i, mu_k / |mu_k|> / tau,   L = mean over labelled i of CE(s_i, y_i)
           + reg_weight * mean over labelled i of (1 - <f_i, mu_{y_i} / |mu_{y_i}|>),

with ``f_i`` unit-norm embeddings and ``mu_k`` the :class:`PrototypeEstimator` means. Classes
without statistics are left out of the softmax; pixels of such classes (or ignored, or of weight
0) are skipped. The regulariser (a pull towards the own prototype) is a reconstruction [U]: the
public code's ``use_reg`` term is not documented.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


def prototype_contrast_loss(emb: Tensor, labels: Tensor, means: Tensor, seen: Tensor,
                            temperature: float = 0.1, reg_weight: float = 0.0,
                            weights: Tensor = None, ignore_index: int = 255) -> Tensor:
    """The loss of the module docstring.

    Args:
        emb (Tensor): [B, D, h, w] unit-norm embeddings.
        labels (Tensor): [B, H, W] int labels; resized to (h, w) with nearest neighbours.
        means (Tensor): [C, D] class means (normalised here).
        seen (Tensor): [C] bool, classes with statistics.
        temperature (float): tau, > 0.
        reg_weight (float): Weight of the pull term.
        weights (Tensor, optional): [B, H, W] pixel weights; pixels of weight 0 are skipped.
        ignore_index (int): Ignored label.

    Returns:
        Tensor: Scalar (0, with a graph, when no pixel qualifies).
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    b, d, h, w = emb.shape
    if means.shape[1] != d:
        raise ValueError(f'prototypes have {means.shape[1]} channels, the embeddings {d}')
    lab = F.interpolate(labels[:, None].float(), size=(h, w), mode='nearest')[:, 0].long()
    if weights is not None:
        wgt = F.interpolate(weights[:, None].float(), size=(h, w), mode='nearest')[:, 0]
        lab = lab.masked_fill(wgt <= 0, ignore_index)
    feats = emb.permute(0, 2, 3, 1).reshape(-1, d)
    lab = lab.reshape(-1)
    ok = (lab != ignore_index) & (lab >= 0) & (lab < means.shape[0])
    ok[ok.clone()] = seen[lab[ok]]
    if not ok.any():
        return emb.sum() * 0.0
    feats, lab = feats[ok], lab[ok]
    protos = F.normalize(means.to(feats.dtype), dim=1)
    sims = feats @ protos.t()  # [N, C]
    logits = (sims / temperature).masked_fill(~seen[None], float('-inf'))
    loss = F.cross_entropy(logits, lab)
    if reg_weight:
        loss = loss + reg_weight * (1 - sims.gather(1, lab[:, None])).mean()
    return loss


@MODELS.register_module()
class PrototypeContrastLoss(nn.Module):
    """:func:`prototype_contrast_loss` with its hyper-parameters.

    Args:
        temperature (float): tau. Defaults to 0.1 [U] (see the ATP README: the public value 100
            belongs to another normalisation of the similarities).
        reg_weight (float): Weight of the pull regulariser. Defaults to 1.0 (the public code's
            ``reg_relative_weight``).
        loss_weight (float): Multiplier. Defaults to 1.0.
        loss_name (str): Key in the loss dict. Defaults to 'loss_proto_contrast'.
    """

    def __init__(self, temperature: float = 0.1, reg_weight: float = 1.0,
                 loss_weight: float = 1.0, loss_name: str = 'loss_proto_contrast'):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_", got {loss_name!r}')
        self.temperature, self.reg_weight, self.loss_weight = temperature, reg_weight, loss_weight
        self._loss_name = loss_name

    def forward(self, emb: Tensor, labels: Tensor, means: Tensor, seen: Tensor,
                weights: Tensor = None) -> Tensor:
        """``loss_weight *`` :func:`prototype_contrast_loss` (shapes there)."""
        return self.loss_weight * prototype_contrast_loss(
            emb, labels, means, seen, self.temperature, self.reg_weight, weights)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
