import logging

import pytest
import torch
from mmseg.registry import MODELS

import mmsfda  # noqa: F401
from mmsfda.engine.hooks.trainable_schedule_hook import TrainableScheduleHook
from test_models.test_segmentors.test_self_training_segmentor import student_cfg


class FakeRunner:
    def __init__(self, model, it=0):
        self.model, self.iter = model, it
        self.logger = logging.getLogger('test')


def trainable(model):
    return {n for n, p in model.student.named_parameters() if p.requires_grad}


PHASES = [dict(begin=0, trainable='norm'), dict(begin=3, trainable=[r'decode_head\.'])]


def test_phases_switch_the_student_parameters():
    model = MODELS.build(dict(type='SelfTrainingSegmentor', student=student_cfg()))
    hook = TrainableScheduleHook(PHASES)
    runner = FakeRunner(model)
    hook.before_train(runner)
    norm = {f'{m}.{p}' for m, mod in model.student.named_modules()
            if isinstance(mod, torch.nn.BatchNorm2d) for p, _ in mod.named_parameters()}
    assert norm and trainable(model) == norm
    for it in range(4):
        runner.iter = it
        hook.before_train_iter(runner, it)
    assert trainable(model) and all(n.startswith('decode_head.') for n in trainable(model))


def test_a_resumed_run_trains_the_phase_of_its_iteration():
    model = MODELS.build(dict(type='SelfTrainingSegmentor', student=student_cfg()))
    TrainableScheduleHook(PHASES).before_train(FakeRunner(model, it=5))
    assert all(n.startswith('decode_head.') for n in trainable(model))


@pytest.mark.parametrize('phases', [[], [dict(begin=2, trainable=None)],
                                    [dict(begin=0, trainable=None), dict(begin=0, trainable=None)],
                                    [dict(begin=0, trainable_params=None)]])
def test_bad_phases(phases):
    with pytest.raises(ValueError):
        TrainableScheduleHook(phases)
