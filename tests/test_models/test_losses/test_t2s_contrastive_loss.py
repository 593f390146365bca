"""T2SContrastiveLoss: samplers, the InfoNCE value against a per-query loop, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsfda.models.losses.t2s_contrastive_loss import (T2SContrastiveLoss, class_balanced_indices,
                                                       other_class_indices, t2s_contrastive_loss)


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def test_class_balanced_indices_caps_each_class_and_keeps_labels():
    torch.manual_seed(0)
    labels = torch.tensor([0] * 50 + [1] * 3 + [3] * 10)
    idx, mask = class_balanced_indices(labels, 8, 4)
    assert idx.shape == (4, 8)
    assert mask.sum(1).tolist() == [8, 3, 0, 8]
    for c in range(4):
        picked = idx[c][mask[c]]
        assert (labels[picked] == c).all() and picked.unique().numel() == picked.numel()
    # rows fill from the left; None takes every element
    assert (mask.cumsum(1) == torch.arange(1, 9).clamp(max=mask.sum(1, keepdim=True))).all()
    idx, mask = class_balanced_indices(labels, None, 4)
    assert mask.sum(1).tolist() == [50, 3, 0, 10]
    idx, mask = class_balanced_indices(labels[:0], 8, 4)
    assert not mask.any()


def test_other_class_indices_never_draw_the_query_class():
    torch.manual_seed(0)
    pool = torch.tensor([2, 0, 1, 1, 0, 2, 2, 3])
    classes = torch.tensor([0, 1, 2, 3])
    idx, valid = other_class_indices(pool, classes, 500, 4)
    assert valid.all()
    for row, c in enumerate(classes):
        drawn = pool[idx[row]]
        assert (drawn != c).all()
        # every other class is reachable (uniform over the other elements)
        assert set(drawn.tolist()) == set(range(4)) - {int(c)}
    idx, valid = other_class_indices(torch.tensor([1, 1]), torch.tensor([1, 0]), 4, 4)
    assert valid.tolist() == [False, True] and (idx[1] < 2).all()
    _, valid = other_class_indices(torch.zeros(0, dtype=torch.long), classes, 4, 4)
    assert not valid.any()


def test_value_matches_a_loop_over_queries():
    q, pos, neg = unit(2, 3, 8), unit(2, 8, seed=1), unit(2, 5, 8, seed=2)
    q_mask = torch.tensor([[True, True, False], [True, False, False]])
    n_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    w = torch.tensor([0.5, 1.5])
    tau = 0.2
    loss, per_row, acc = t2s_contrastive_loss(q, q_mask, pos, neg, n_mask, tau, w)
    rows = []
    for m in range(2):
        terms = []
        for k in range(3):
            if not q_mask[m, k]:
                continue
            p = math.exp(float(q[m, k] @ pos[m]) / tau)
            n = sum(math.exp(float(q[m, k] @ neg[m, j]) / tau) for j in range(5) if n_mask[m, j])
            terms.append(-math.log(p / (p + n)))
        rows.append(sum(terms) / len(terms))
    assert per_row.tolist() == pytest.approx(rows, rel=1e-5)
    assert float(loss) == pytest.approx((0.5 * rows[0] + 1.5 * rows[1]) / 2, rel=1e-5)
    # per-query averaging weights queries, not classes (row 0 has two queries)
    loss_q, _, _ = t2s_contrastive_loss(q, q_mask, pos, neg, n_mask, tau, None, average='query')
    assert float(loss_q) == pytest.approx((2 * rows[0] + rows[1]) / 3, rel=1e-5)
    assert ((acc >= 0) & (acc <= 1)).all()


def pools(seed=0):
    g = torch.Generator().manual_seed(seed)
    q_lab = torch.randint(0, 3, (200,), generator=g)
    s_lab = torch.randint(0, 3, (100,), generator=g)
    t_lab = torch.randint(0, 3, (60,), generator=g)
    return (unit(200, 16, seed=1).requires_grad_(), q_lab, unit(3, 16, seed=2),
            unit(100, 16, seed=3), s_lab, unit(60, 16, seed=4), t_lab)


def test_module_gradient_flows_to_queries_only_and_stats():
    torch.manual_seed(0)
    q, q_lab, protos, s_keys, s_lab, t_keys, t_lab = pools()
    loss_fn = T2SContrastiveLoss(tau=0.1, num_queries=16, num_negatives=8, loss_weight=0.5)
    valid = torch.tensor([True, True, False])
    loss, stats = loss_fn(q, q_lab, protos, valid, s_keys, s_lab, t_keys, t_lab,
                          class_weights=torch.tensor([1., 3., 9.]))
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert int(stats['classes']) == 2 and int(stats['skipped_no_prototype']) == 1
    assert int(stats['missing_target_negatives']) == 0
    used = q.grad.abs().sum(1) > 0
    assert used.sum() <= 32 and not used[q_lab == 2].any()  # <= N_q per class, class 2 skipped
    assert stats['accuracy_present'].tolist() == [True, True, False]


def test_no_query_no_prototype_and_no_target_pool_are_defined():
    torch.manual_seed(0)
    q, q_lab, protos, s_keys, s_lab, _, _ = pools()
    loss_fn = T2SContrastiveLoss(num_queries=16, num_negatives=8)
    # no prototype at all: zero loss with a (zero) gradient, never NaN
    loss, stats = loss_fn(q, q_lab, protos, torch.zeros(3, dtype=torch.bool), s_keys, s_lab)
    loss.backward()
    assert float(loss) == 0 and int(stats['skipped_no_prototype']) == 3
    assert torch.equal(q.grad, torch.zeros_like(q))
    # no query pixel
    loss, stats = loss_fn(q[:0], q_lab[:0], protos, torch.ones(3, dtype=torch.bool), s_keys,
                          s_lab)
    assert float(loss) == 0 and int(stats['classes']) == 0
    # no target pixel: the target half of the negatives is left out and counted
    loss, stats = loss_fn(q.detach(), q_lab, protos, torch.ones(3, dtype=torch.bool), s_keys,
                          s_lab, None, None)
    assert torch.isfinite(loss) and int(stats['missing_target_negatives']) == 3
    # one class only: no negative anywhere, -log(1) = 0
    loss, stats = loss_fn(q.detach(), torch.zeros_like(q_lab), protos,
                          torch.ones(3, dtype=torch.bool), s_keys, torch.zeros_like(s_lab))
    assert float(loss) == pytest.approx(0, abs=1e-6)
    assert int(stats['missing_source_negatives']) == 1


def test_random_sampling_and_negative_domains():
    torch.manual_seed(0)
    q, q_lab, protos, s_keys, s_lab, t_keys, t_lab = pools()
    valid = torch.ones(3, dtype=torch.bool)
    for domains in ('source', 'target'):
        loss_fn = T2SContrastiveLoss(num_queries=16, num_negatives=8, negative_domains=domains,
                                     query_sampling='random')
        assert loss_fn.negatives_per_domain()[domains] == 8
        loss, _ = loss_fn(q.detach(), q_lab, protos, valid, s_keys, s_lab, t_keys, t_lab)
        assert torch.isfinite(loss) and loss > 0
    assert T2SContrastiveLoss(num_negatives=9).negatives_per_domain() == dict(source=4, target=5)


def test_bad_input_errors():
    with pytest.raises(ValueError, match='query_sampling'):
        T2SContrastiveLoss(query_sampling='balanced')
    with pytest.raises(ValueError, match='negative_domains'):
        T2SContrastiveLoss(negative_domains='all')
    q, q_lab, protos, s_keys, s_lab, _, _ = pools()
    with pytest.raises(ValueError, match=r'queries must be \[Nq, 16\]'):
        T2SContrastiveLoss()(q[:, :8], q_lab, protos, torch.ones(3, dtype=torch.bool), s_keys,
                             s_lab)
    with pytest.raises(ValueError, match='source_keys'):
        T2SContrastiveLoss()(q, q_lab, protos, torch.ones(3, dtype=torch.bool), s_keys[:, :4],
                             s_lab)
