"""PseudoLabelStatsHook: sums over the interval, message-hub scalars, the per-class table."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

from mmsfda.engine.hooks.pseudo_label_stats_hook import PseudoLabelStatsHook, format_table
from mmsfda.models.pseudo_labelers import PseudoLabels, pseudo_label_stats


class FakeLogger:
    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)


def batch_stats(seed, with_gt=True):
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(2, 3, 4, 4, generator=g).softmax(1)
    labels = probs.argmax(1)
    labels[probs.max(1).values < 0.4] = 255
    gt = torch.randint(0, 3, (2, 4, 4), generator=g)
    return pseudo_label_stats(PseudoLabels(labels, torch.ones(2, 4, 4), probs), 3,
                              gt=gt if with_gt else None)


def test_accumulates_and_logs_every_interval():
    hub = MessageHub.get_instance('test_pl_stats_hook')
    model = SimpleNamespace(pseudo_label_stats={})
    runner = SimpleNamespace(model=model, iter=0, max_iters=100, message_hub=hub,
                             logger=FakeLogger())
    hook = PseudoLabelStatsHook(interval=2, classes=['road', 'sidewalk', 'building'])
    hook.before_train(runner)
    stats = [batch_stats(i) for i in range(4)]
    # iteration 0, 1: both counted; iteration 2: the segmentor left nothing; iteration 3: counted
    for i, s in enumerate([stats[0], stats[1], None, stats[3]]):
        runner.iter = i
        model.pseudo_label_stats = s
        hook.after_train_iter(runner, i, None, outputs={'loss': torch.tensor(1.0)})
        assert not model.pseudo_label_stats  # taken by the hook
        if i == 1:
            tot = {k: stats[0][k] + stats[1][k] for k in stats[0]}
            cov = 100 * tot['labelled'].sum() / tot['pixels']
            assert hub.get_scalar('train/pl_coverage').current() == pytest.approx(float(cov))
            acc = 100 * tot['correct'].sum() / tot['evaluated'].sum()
            assert hub.get_scalar('train/pl_accuracy').current() == pytest.approx(float(acc))
            kept = (100 * tot['labelled'] / tot['predicted']).tolist()
            assert hub.get_info('pl_stats')['kept'] == pytest.approx(kept, nan_ok=True)
            assert len(runner.logger.lines) == 1 and 'sidewal' in runner.logger.lines[0]
    s3 = stats[3]
    assert hub.get_scalar('train/pl_coverage').current() == pytest.approx(
        float(100 * s3['labelled'].sum() / s3['pixels']))
    assert len(runner.logger.lines) == 2
    assert len(hub.get_scalar('train/pl_coverage').data[0]) == 2  # one value per interval


def test_stats_from_outputs_and_no_stats():
    hub = MessageHub.get_instance('test_pl_stats_hook_outputs')
    runner = SimpleNamespace(model=SimpleNamespace(), iter=0, max_iters=1, message_hub=hub,
                             logger=FakeLogger())
    hook = PseudoLabelStatsHook(interval=5)
    hook.after_train_iter(runner, 0, None, outputs={'loss': torch.tensor(0.0)})
    assert runner.logger.lines == []  # nothing to log, last iteration or not
    s = batch_stats(0, with_gt=False)
    hook.after_train_iter(runner, 0, None, outputs={'pseudo_label_stats': s})
    assert 'train/pl_coverage' in hub.log_scalars and 'train/pl_accuracy' not in hub.log_scalars
    assert 'acc' not in hub.get_info('pl_stats')


def test_table_format():
    per_class = {'share': torch.tensor([10.0, 20.0, 0.0]),
                 'acc': torch.tensor([50.0, math.nan, 100.0])}
    table = format_table(per_class, ['road', 'sidewalk', 'x'], per_line=2).splitlines()
    assert table[0].split() == ['class', 'road', 'sidewal']
    assert table[2].split() == ['acc', '50.0', '-']
    assert table[3].split() == ['class', 'x'] and table[5].split() == ['acc', '100.0']
    with pytest.raises(ValueError):
        PseudoLabelStatsHook(interval=0)


def test_in_a_runner(tmp_path):
    """The coverage appears in mmengine's training log line."""
    from toy_runner import ToyTeacherStudent, make_runner
    model = ToyTeacherStudent(stats=lambda: batch_stats(0))
    runner = make_runner(tmp_path, 4, [PseudoLabelStatsHook(interval=2)], model=model,
                         log_interval=2)
    runner.train()
    log = open(runner.logger.log_file).read()
    assert 'pl_coverage:' in log and 'pl_accuracy:' in log and 'pseudo-labels per class' in log


def test_asks_for_statistics_only_on_logging_iterations():
    model = SimpleNamespace(pseudo_label_stats={}, record_pseudo_label_stats=True)
    runner = SimpleNamespace(model=model, iter=0, max_iters=7)
    hook = PseudoLabelStatsHook(interval=3)
    asked = []
    for i in range(7):
        runner.iter = i
        hook.before_train_iter(runner, i, None)
        asked.append(model.record_pseudo_label_stats)
    # iterations 3 and 6 (1-based) log, and the last one (7)
    assert asked == [False, False, True, False, False, True, True]
