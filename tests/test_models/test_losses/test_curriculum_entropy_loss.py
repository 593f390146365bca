"""CurriculumEntropyLoss (ATP's Align): the easiest-pixel selection, the schedule, the state."""
import math

import pytest
import torch

from mmsfda.models.losses.curriculum_entropy_loss import (CurriculumEntropyLoss, curriculum_rho,
                                                         curriculum_entropy_loss, easiest_mask)
from mmsfda.models.losses.entropy_loss import entropy_map


def test_rho_schedules():
    assert curriculum_rho(0, 0.2, 100) == pytest.approx(0.2)
    assert curriculum_rho(50, 0.2, 100) == pytest.approx(0.6)
    assert curriculum_rho(500, 0.2, 100) == 1.0
    assert curriculum_rho(99, 0.2, 100, 'step') == 0.2 and curriculum_rho(100, 0.2, 100,
                                                                         'step') == 1.0
    assert curriculum_rho(10 ** 6, 0.3, 100, 'constant') == 0.3
    with pytest.raises(ValueError, match='schedule'):
        curriculum_rho(0, 0.2, 100, 'cosine')


def test_batch_selection_by_hand():
    # 4 pixels, 2 classes: entropies ordered by |logit difference| (largest = easiest).
    logits = torch.tensor([[4., 0., 1., 2.], [0., 0., 0., 0.]]).view(1, 2, 1, 4)
    ent = entropy_map(logits, normalize=True)
    mask = easiest_mask(ent, 0.5)
    assert mask.view(-1).tolist() == [True, False, False, True]  # the two most confident
    loss = curriculum_entropy_loss(logits, 0.5)
    assert loss == pytest.approx(float(ent.view(-1)[[0, 3]].mean()), abs=1e-6)
    # rho = 1: plain normalised entropy over every pixel
    assert curriculum_entropy_loss(logits, 1.0) == pytest.approx(float(ent.mean()), abs=1e-6)
    # ceil(rho * N): rho 0.3 of 4 pixels keeps 2
    assert int(easiest_mask(ent, 0.3).sum()) == 2


def test_class_selection_keeps_every_class():
    # class 0 is confident everywhere it wins, class 1 only barely: per batch, rho 0.5 keeps
    # class 0 pixels only; per class, each class keeps its easiest half.
    logits = torch.tensor([[5., 6., 0.1, 0.2], [0., 0., 0.3, 0.5]]).view(1, 2, 1, 4)
    ent = entropy_map(logits, normalize=True)
    batch = easiest_mask(ent, 0.5).view(-1).tolist()
    assert batch == [True, True, False, False]
    per_class = easiest_mask(ent, 0.5, 'class', logits.argmax(1), 2).view(-1).tolist()
    assert per_class == [False, True, False, True]


def test_step_state_diversity_and_robust_form():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, 4, requires_grad=True)
    loss_fn = CurriculumEntropyLoss(rho_0=0.5, rho_iters=4)
    assert loss_fn.rho == 0.5
    loss_fn(logits).backward()
    assert int(loss_fn.step) == 1 and loss_fn.rho == pytest.approx(0.625)
    assert 'step' in loss_fn.state_dict()  # saved with the model: exact on resume
    loss_fn.eval()
    loss_fn(logits)
    assert int(loss_fn.step) == 1  # validation does not advance the curriculum
    # diversity: + w * sum pbar log pbar (<= 0; -log C for a uniform batch mean)
    flat = torch.zeros(1, 4, 2, 2)
    with_div = curriculum_entropy_loss(flat, 1.0, div_weight=1.0)
    assert with_div == pytest.approx(1.0 - math.log(4), abs=1e-5)
    robust = curriculum_entropy_loss(flat, 1.0, eta=2.0)
    assert robust == pytest.approx((1 + 1e-8) ** 2, abs=1e-5)
    for bad in (dict(rho_0=0.0), dict(rho_iters=0), dict(select='image'), dict(loss_name='x')):
        with pytest.raises(ValueError):
            CurriculumEntropyLoss(**bad)
