"""checkpoint_selection: rule picks on hand-made records, Spearman by hand, summaries."""
import math

import pytest

from mmsfda.engine.checkpoint_selection import (PRESET_RULES, check_rule, select, spearman,
                                                summarize)

MIN_ECE = dict(name='min_ece', key='ECE', mode='min')
MAX_MIOU = dict(name='max_miou', key='mIoU', mode='max')


def within(margin):
    return dict(name='min_ece_within_miou', key='ECE', mode='min',
                within=dict(key='mIoU', margin=margin))


def make_records(tmp_path, table, missing=()):
    """Records from ``{iter: (mIoU, ECE)}``; a checkpoint file for every iteration but
    ``missing``."""
    records = []
    for it, (miou, ece) in table.items():
        path = tmp_path / f'iter_{it}.pth'
        if it not in missing:
            path.write_bytes(b'x')
        records.append(dict(iter=it, metrics=dict(mIoU=miou, ECE=ece), checkpoint=str(path)))
    return records


CURVE = {1000: (40.0, 0.10), 2000: (42.0, 0.08), 3000: (45.0, 0.07), 4000: (44.5, 0.05),
         5000: (38.0, 0.03)}


def test_rule_picks(tmp_path):
    records = make_records(tmp_path, CURVE)
    assert select(records, MAX_MIOU)['iter'] == 3000
    assert select(records, MIN_ECE)['iter'] == 5000
    # within 1 mIoU of the best (45.0): 3000 and 4000; 4000 has the lower ECE at lower mIoU
    pick = select(records, within(1.0))
    assert pick['iter'] == 4000 and pick is records[3]
    assert pick['metrics']['mIoU'] < select(records, MAX_MIOU)['metrics']['mIoU']
    assert select(records, within(0.0))['iter'] == 3000
    assert select(records, within(0.5))['iter'] == 4000  # 44.5 >= 45.0 - 0.5: boundary included
    assert select(records, within(0.49))['iter'] == 3000
    assert select(records, within(10.0))['iter'] == 5000
    # presets by name are the same rules
    assert select(records, 'min_ece_within_miou')['iter'] == 4000
    assert select(records, 'max_miou')['iter'] == 3000
    # within 'min': among ECE <= best ECE + margin, the highest mIoU
    rule = dict(name='max_miou_within_ece', key='mIoU', mode='max',
                within=dict(key='ECE', margin=0.03, mode='min'))
    assert select(records, rule)['iter'] == 4000  # ECE <= 0.06: 4000, 5000
    rule['within']['margin'] = 0.045
    assert select(records, rule)['iter'] == 3000  # ECE <= 0.075: 3000 too


def test_ties_go_to_the_earliest_iteration(tmp_path):
    records = make_records(tmp_path, {3000: (44.0, 0.05), 1000: (44.0, 0.05), 2000: (41.0, 0.09)})
    assert select(records, MIN_ECE)['iter'] == 1000  # not the first in the list
    assert select(records, MAX_MIOU)['iter'] == 1000
    assert select(records, within(1.0))['iter'] == 1000


def test_missing_checkpoint_files(tmp_path):
    records = make_records(tmp_path, CURVE, missing=(5000, 3000))
    records.append(dict(iter=6000, metrics=dict(mIoU=50.0, ECE=0.001), checkpoint=None))
    assert select(records, MIN_ECE)['iter'] == 4000
    assert select(records, MAX_MIOU)['iter'] == 4000
    # the margin counts from the best *available* mIoU (44.5): only 4000 is within 1.0
    assert select(records, within(1.0))['iter'] == 4000
    assert select(records, within(3.0))['iter'] == 4000  # 2000 (42.0) is 2.5 below, ECE higher
    # analysis over every validation, files or not
    assert select(records, MIN_ECE, require_checkpoint=False)['iter'] == 6000
    assert select(records, within(1.0), require_checkpoint=False)['iter'] == 6000
    # nothing on disk: no pick
    (tmp_path / 'none').mkdir()
    gone = make_records(tmp_path / 'none', {1000: (40.0, 0.1)}, missing=(1000,))
    assert select(gone, MIN_ECE) is None
    assert select([], MIN_ECE) is None


def test_missing_and_nan_metrics(tmp_path):
    records = make_records(tmp_path, CURVE)
    with pytest.raises(ValueError, match=r"'cwECE'.*available: \['ECE', 'mIoU'\]"):
        select(records, dict(name='min_cw', key='cwECE'))
    with pytest.raises(ValueError, match="'EstECE'"):
        select(records, 'min_est_ece')
    with pytest.raises(ValueError, match="'mIoU2'"):
        select(records, dict(name='r', key='ECE', within=dict(key='mIoU2', margin=1)))
    # a record without the metric (or with NaN / None) is just not eligible
    del records[4]['metrics']['ECE']
    records[3]['metrics']['ECE'] = float('nan')
    records[2]['metrics']['ECE'] = None
    assert select(records, MIN_ECE)['iter'] == 2000
    # the margin counts from the best mIoU among records with both metrics (2000: 42.0)
    assert select(records, within(1.0))['iter'] == 2000


def test_invalid_rules():
    assert check_rule('min_ece') == dict(name='min_ece', key='ECE', mode='min')
    assert check_rule(dict(name='x', key='ECE'))['mode'] == 'min'
    assert check_rule(within(2))['within'] == dict(key='mIoU', margin=2, mode='max')
    for bad, msg in [('lowest', 'unknown rule'), (dict(key='ECE'), "'name'"),
                     (dict(name='x', key='ECE', mode='less'), 'mode'),
                     (dict(name='x', key='ECE', within=dict(key='mIoU', margin=-1)), 'margin'),
                     (dict(name='x', key='ECE', within='mIoU'), 'within'),
                     (dict(name='x', key='ECE', margin=1), 'unknown fields')]:
        with pytest.raises(ValueError, match=msg):
            check_rule(bad)
    assert set(PRESET_RULES) >= {'min_ece', 'max_miou', 'min_ece_within_miou', 'min_est_ece'}


def test_spearman_by_hand():
    # no ties: 1 - 6 sum d^2 / (n (n^2 - 1)), d = (0, -1, 1, 0)
    assert spearman([10, 20, 30, 40], [1, 3, 2, 4]) == pytest.approx(1 - 6 * 2 / (4 * 15))
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)  # monotone, not linear
    # ties: y ranks (1, 2, 3.5, 5, 3.5); cov 8, var_x 10, var_y 9.5
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    # ties on both sides: x ranks (1.5, 1.5, 3), y ranks (1, 2.5, 2.5) -> 0.5
    assert spearman([0, 0, 1], [0, 1, 1]) == pytest.approx(0.5)
    # undefined
    assert spearman([], []) is None
    assert spearman([1.0], [2.0]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    # missing values drop the pair
    assert spearman([1, None, 2, float('nan'), 3], [3, 1, 2, 0, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match='length'):
        spearman([1, 2], [1])


def test_spearman_matches_scipy():
    stats = pytest.importorskip('scipy.stats')
    import random
    rng = random.Random(0)
    for _ in range(20):
        n = rng.randint(2, 12)
        x = [rng.randint(0, 4) for _ in range(n)]
        y = [rng.randint(0, 4) for _ in range(n)]
        ours = spearman(x, y)
        ref = stats.spearmanr(x, y).correlation
        if ours is None:
            assert math.isnan(ref)
        else:
            assert ours == pytest.approx(ref)


def test_summarize(tmp_path):
    records = make_records(tmp_path, CURVE)
    for r, est in zip(records, [0.09, 0.07, 0.08, 0.04, 0.05]):
        r['metrics']['EstECE'] = est
    shuffled = records[::-1]
    out = summarize(shuffled, ['min_est_ece', MAX_MIOU, within(1.0)],
                    compare=('min_est_ece', 'max_miou', 'mIoU'),
                    correlate=[('EstECE', 'ECE'), ('EstECE', 'cwECE')])
    assert [r['iter'] for r in out['records']] == [1000, 2000, 3000, 4000, 5000]
    assert {k: v['iter'] for k, v in out['picks'].items()} == {
        'min_est_ece': 4000, 'max_miou': 3000, 'min_ece_within_miou': 4000}
    assert out['comparison'] == dict(label_free='min_est_ece', oracle='max_miou', key='mIoU',
                                     label_free_value=44.5, oracle_value=45.0,
                                     gap=pytest.approx(0.5))
    ece_rank = spearman([0.09, 0.07, 0.08, 0.04, 0.05], [0.10, 0.08, 0.07, 0.05, 0.03])
    assert out['correlations'] == [
        dict(x='EstECE', y='ECE', spearman=pytest.approx(ece_rank), n=5),
        dict(x='EstECE', y='cwECE', spearman=None, n=0)]
    assert 'errors' not in out
    # summarize copies: the input records are not touched
    assert shuffled[0]['iter'] == 5000

    with pytest.raises(ValueError, match="'ClassECE'"):
        summarize(records, [dict(name='oracle_cal', key='ClassECE')])
    lenient = summarize(records, [MIN_ECE, dict(name='oracle_cal', key='ClassECE')], strict=False)
    assert lenient['picks']['oracle_cal'] is None and 'ClassECE' in lenient['errors']['oracle_cal']
    assert lenient['picks']['min_ece']['iter'] == 5000
    with pytest.raises(ValueError, match="'max_miou'"):
        summarize(records, [MIN_ECE], compare=('min_ece', 'max_miou', 'mIoU'))
    with pytest.raises(ValueError, match='distinct'):
        summarize(records, [MIN_ECE, 'min_ece'])
    # a comparison with a pick missing has no gap
    empty = summarize([], [MIN_ECE, MAX_MIOU], compare=('min_ece', 'max_miou', 'mIoU'))
    assert empty['comparison']['gap'] is None and empty['picks'] == dict(min_ece=None,
                                                                         max_miou=None)
