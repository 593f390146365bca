"""T2S-DA's contrastive "pull": target-like queries towards same-class source prototypes.

Wang et al., *Pulling Target to Source: A New Perspective on Domain Adaptive Semantic
Segmentation*, IJCV 2024, arXiv:2305.13752. What the paper's figures fix: the positive of a query
(a pseudo-target pixel, labelled by its source label) is the source prototype of its class; the
negatives are source features of other classes and unreliable target features of other classes,
half from each domain; queries are sampled class-balanced. The InfoNCE form, tau, the numbers of
queries and negatives and the per-class averaging are reconstructions (options below).

Everything is vectorised: queries are grouped into a padded [M, K, D] grid (M classes with
queries, K per class) by one sort, negatives are drawn per class by one vectorised draw per domain
(shared by the queries of that class in a step), and the logits are one batched matmul. No Python
loop over classes, queries or pixels.
"""
from typing import Dict, Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

QUERY_SAMPLING = ('class_balanced', 'random')
NEGATIVE_DOMAINS = ('both', 'source', 'target')


def class_balanced_indices(labels: Tensor, num_per_class: Optional[int],
                           num_classes: int) -> Tuple[Tensor, Tensor]:
    """Up to ``num_per_class`` random elements of every class, as a padded per-class grid.

    Args:
        labels (Tensor): [N] int64 class ids in [0, C).
        num_per_class (int, optional): K; None: all elements (K = the largest class count).
        num_classes (int): C.

    Returns:
        tuple: idx [C, K] int64 (indices into ``labels``; 0 where padded) and mask [C, K] bool
        (True on real entries, which fill each row from the left, in random order).
    """
    n = labels.numel()
    counts = torch.bincount(labels, minlength=num_classes)
    k = int(counts.max()) if num_per_class is None and n else (num_per_class or 0)
    idx = torch.zeros(num_classes, k, dtype=torch.long, device=labels.device)
    mask = torch.zeros(num_classes, k, dtype=torch.bool, device=labels.device)
    if n == 0 or k == 0:
        return idx, mask
    perm = torch.randperm(n, device=labels.device)
    order = perm[torch.sort(labels[perm], stable=True).indices]  # grouped by class, random within
    sorted_labels = labels[order]
    starts = counts.cumsum(0) - counts
    rank = torch.arange(n, device=labels.device) - starts[sorted_labels]
    keep = rank < k
    idx[sorted_labels[keep], rank[keep]] = order[keep]
    mask[sorted_labels[keep], rank[keep]] = True
    return idx, mask


def other_class_indices(pool_labels: Tensor, classes: Tensor, num: int,
                        num_classes: int) -> Tuple[Tensor, Tensor]:
    """For each class in ``classes``, ``num`` uniform draws (with replacement) from the pool
    elements of any *other* class.

    The pool is sorted by class once; a draw ``u`` in ``[0, P - n_c)`` skips class c's block
    (``u + n_c`` if ``u >= start_c``), so one vectorised draw covers every class.

    Args:
        pool_labels (Tensor): [P] int64 class ids in [0, C).
        classes (Tensor): [M] int64 the query classes.
        num (int): draws per class.
        num_classes (int): C.

    Returns:
        tuple: idx [M, num] int64 into the pool, valid [M] bool (False: the pool holds no element
        of another class; that row's indices are meaningless).
    """
    m, p = classes.numel(), pool_labels.numel()
    if p == 0 or num == 0:
        return (torch.zeros(m, num, dtype=torch.long, device=classes.device),
                torch.zeros(m, dtype=torch.bool, device=classes.device))
    order = torch.sort(pool_labels, stable=True).indices
    counts = torch.bincount(pool_labels, minlength=num_classes)
    starts = counts.cumsum(0) - counts
    n_c, start_c = counts[classes], starts[classes]  # [M]
    others = p - n_c
    u = (torch.rand(m, num, device=classes.device) * others.unsqueeze(1)).long()
    u = torch.minimum(u, (others - 1).clamp(min=0).unsqueeze(1))  # rand() < 1 is not exact in fp
    pos = u + n_c.unsqueeze(1) * (u >= start_c.unsqueeze(1))
    return order[pos.clamp(max=p - 1)], others > 0


def t2s_contrastive_loss(queries: Tensor, query_mask: Tensor, positives: Tensor,
                         negatives: Tensor, negative_mask: Tensor, tau: float,
                         class_weights: Optional[Tensor] = None,
                         average: str = 'class') -> Tuple[Tensor, Tensor, Tensor]:
    """InfoNCE of grouped queries against their class prototype and per-class negatives.

    For a query q of class c: ``l(q) = -log(exp(q.k+/tau) / (exp(q.k+/tau) + sum_k exp(q.k/tau)))``
    with ``k+`` the prototype of c and k over c's negatives.

    Args:
        queries (Tensor): [M, K, D] unit-norm query embeddings, row m of class m's group.
        query_mask (Tensor): [M, K] bool, real queries.
        positives (Tensor): [M, D] the prototype of each row's class (no gradient needed).
        negatives (Tensor): [M, N, D] negative keys of each row's class.
        negative_mask (Tensor): [M, N] bool, real negatives.
        tau (float): Temperature.
        class_weights (Tensor, optional): [M] weight of each row (re-weighting); None: 1.
        average (str): ``'class'``: mean over a row's queries, then the weighted mean over rows
            (class-balanced); ``'query'``: the weighted mean over all queries.

    Returns:
        tuple: the loss (scalar), per-row loss [M] (mean over the row's queries) and per-row
        contrastive accuracy [M] (share of queries whose positive beats every negative).
    """
    pos = (queries * positives.unsqueeze(1)).sum(-1) / tau  # [M, K]
    neg = torch.bmm(queries, negatives.transpose(1, 2)) / tau  # [M, K, N]
    neg = neg.masked_fill(~negative_mask.unsqueeze(1), float('-inf'))
    logits = torch.cat([pos.unsqueeze(-1), neg], dim=-1)
    per_query = (torch.logsumexp(logits, dim=-1) - pos) * query_mask  # finite: pos is finite
    n = query_mask.sum(1)
    per_row = per_query.sum(1) / n.clamp(min=1)
    with torch.no_grad():
        hit = (pos > neg.amax(-1)) & query_mask if neg.shape[-1] else query_mask
        acc = hit.sum(1) / n.clamp(min=1)
    w = torch.ones_like(per_row) if class_weights is None else class_weights.to(per_row)
    if average == 'class':
        loss = (w * per_row).sum() / w.sum().clamp(min=1e-12)
    else:
        loss = (w.unsqueeze(1) * per_query).sum() / (w * n).sum().clamp(min=1e-12)
    return loss, per_row.detach(), acc


@MODELS.register_module()
class T2SContrastiveLoss(nn.Module):
    """T2S-DA's contrastive loss with query sampling and domain-equalised negatives.

    Args:
        tau (float): Temperature. Defaults to 0.1.
        num_queries (int): N_q, queries per class (class-balanced; a class with fewer pixels
            gives all of them). Defaults to 256.
        num_negatives (int): N_k, negatives per query class and step. Defaults to 512.
        query_sampling (str): ``'class_balanced'`` (up to N_q per class, loss averaged per class
            then over classes) or ``'random'`` (the same total number of queries drawn uniformly
            over pixels, so frequent classes dominate; loss averaged over queries). Defaults to
            ``'class_balanced'``.
        negative_domains (str): ``'both'`` (N_k/2 source + N_k/2 target keys: domain-equalised),
            ``'source'`` or ``'target'`` (all N_k from one domain). Defaults to ``'both'``.
        loss_weight (float): lambda_T2S. Defaults to 1.0.
        loss_name (str): Defaults to ``'loss_t2s'``.
    """

    def __init__(self, tau: float = 0.1, num_queries: int = 256, num_negatives: int = 512,
                 query_sampling: str = 'class_balanced', negative_domains: str = 'both',
                 loss_weight: float = 1.0, loss_name: str = 'loss_t2s'):
        super().__init__()
        if query_sampling not in QUERY_SAMPLING:
            raise ValueError(f'query_sampling must be one of {QUERY_SAMPLING}, got '
                             f'{query_sampling!r}')
        if negative_domains not in NEGATIVE_DOMAINS:
            raise ValueError(f'negative_domains must be one of {NEGATIVE_DOMAINS}, got '
                             f'{negative_domains!r}')
        if tau <= 0 or num_queries < 1 or num_negatives < 1:
            raise ValueError(f'tau, num_queries and num_negatives must be positive, got {tau}, '
                             f'{num_queries}, {num_negatives}')
        self.tau = tau
        self.num_queries = num_queries
        self.num_negatives = num_negatives
        self.query_sampling = query_sampling
        self.negative_domains = negative_domains
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def negatives_per_domain(self) -> Dict[str, int]:
        """How many of the N_k negatives come from each domain."""
        n = self.num_negatives
        return dict(both=dict(source=n // 2, target=n - n // 2), source=dict(source=n, target=0),
                    target=dict(source=0, target=n))[self.negative_domains]

    def forward(self, queries: Tensor, query_labels: Tensor, prototypes: Tensor,
                prototype_valid: Tensor, source_keys: Tensor, source_labels: Tensor,
                target_keys: Optional[Tensor] = None, target_labels: Optional[Tensor] = None,
                class_weights: Optional[Tensor] = None) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The weighted loss and its statistics.

        Args:
            queries (Tensor): [Nq, D] unit-norm student embeddings of the candidate query pixels.
            query_labels (Tensor): [Nq] int64 their classes in [0, C).
            prototypes (Tensor): [C, D] source class prototypes (keys: no gradient).
            prototype_valid (Tensor): [C] bool, classes that have a prototype. Queries of the
                other classes are skipped (counted in ``skipped_no_prototype``).
            source_keys, source_labels (Tensor): [Ns, D] and [Ns]: the source negative pool.
            target_keys, target_labels (Tensor, optional): [Nt, D] and [Nt]: the target negative
                pool (unreliable target pixels with their pseudo-labels); None: empty.
            class_weights (Tensor, optional): [C] re-weighting; rescaled to mean 1 over the classes
                that have queries.

        Returns:
            tuple: ``loss_weight`` x the loss (0 with a zero gradient if no class has a query
            and a prototype), and a dict of detached statistics: ``classes`` (classes with
            queries), ``skipped_no_prototype`` (classes with query pixels but no prototype),
            ``missing_target_negatives`` / ``missing_source_negatives`` (query classes whose
            share of negatives from that domain had no candidate and was left out),
            ``accuracy`` [C] and ``accuracy_present`` [C] (contrastive accuracy per class).
        """
        num_classes, dim = prototypes.shape
        if queries.dim() != 2 or queries.shape[1] != dim or query_labels.shape != queries.shape[:1]:
            raise ValueError(f'queries must be [Nq, {dim}] (the prototypes\' width) with labels '
                             f'[Nq], got {tuple(queries.shape)} and {tuple(query_labels.shape)}')
        if target_keys is None:
            target_keys = source_keys.new_zeros(0, dim)
            target_labels = source_labels.new_zeros(0)
        for name, keys, labels in (('source', source_keys, source_labels),
                                   ('target', target_keys, target_labels)):
            if keys.dim() != 2 or keys.shape[1] != dim or labels.shape != keys.shape[:1]:
                raise ValueError(f'{name}_keys must be [N, {dim}] with labels [N], got '
                                 f'{tuple(keys.shape)} and {tuple(labels.shape)}')
        if self.query_sampling == 'class_balanced':
            idx, mask = class_balanced_indices(query_labels, self.num_queries, num_classes)
        else:
            n_present = int((torch.bincount(query_labels, minlength=num_classes) > 0).sum())
            sub = torch.randperm(query_labels.numel(), device=query_labels.device)[
                :self.num_queries * n_present]
            idx, mask = class_balanced_indices(query_labels[sub], None, num_classes)
            idx = sub[idx] if sub.numel() else idx
        has_query = mask.any(1)
        skipped = has_query & ~prototype_valid
        classes = (has_query & prototype_valid).nonzero(as_tuple=True)[0]  # [M]
        stats = dict(classes=classes.numel(), skipped_no_prototype=int(skipped.sum()))
        acc_full = queries.new_zeros(num_classes)
        acc_present = torch.zeros(num_classes, dtype=torch.bool, device=queries.device)
        if classes.numel() == 0:
            stats.update(missing_source_negatives=0, missing_target_negatives=0,
                         accuracy=acc_full, accuracy_present=acc_present)
            return queries.sum() * 0., _tensors(stats, queries)
        q = queries[idx[classes]]  # [M, K, D]
        q_mask = mask[classes]
        negs, neg_masks = [], []
        for domain, keys, labels in (('source', source_keys, source_labels),
                                     ('target', target_keys, target_labels)):
            n = self.negatives_per_domain()[domain]
            if n == 0:
                stats[f'missing_{domain}_negatives'] = 0
                continue
            nidx, valid = other_class_indices(labels, classes, n, num_classes)
            stats[f'missing_{domain}_negatives'] = int((~valid).sum())
            negs.append(keys[nidx] if keys.shape[0] else keys.new_zeros(*nidx.shape, dim))
            neg_masks.append(valid.unsqueeze(1).expand(-1, n))
        w = None
        if class_weights is not None:
            w = class_weights.to(q)[classes]
            w = w / w.mean().clamp(min=1e-12)
        average = 'class' if self.query_sampling == 'class_balanced' else 'query'
        loss, _, acc = t2s_contrastive_loss(
            q, q_mask, prototypes[classes].to(q), torch.cat(negs, 1).to(q),
            torch.cat(neg_masks, 1), self.tau, w, average)
        acc_full[classes] = acc.to(acc_full)
        acc_present[classes] = True
        stats.update(accuracy=acc_full, accuracy_present=acc_present)
        return self.loss_weight * loss, _tensors(stats, queries)


def _tensors(stats: dict, like: Tensor) -> Dict[str, Tensor]:
    return {k: v if isinstance(v, Tensor) else like.new_tensor(float(v)) for k, v in stats.items()}
