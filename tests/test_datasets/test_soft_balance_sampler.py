"""SoftBalanceSampler: UPLR's weights by hand, determinism, DDP shares, resume, bad statistics."""
import itertools
import json

import numpy as np
import pytest

from mmsfda.datasets.soft_balance_sampler import (SoftBalanceSampler, read_class_counts,
                                                  soft_balance_weights)


def test_weights_by_hand():
    counts = np.array([[100, 10, 0], [100, 0, 5], [50, 0, 0], [0, 30, 5]], dtype=float)
    lam, alpha = 0.5, 4.0
    total = counts.sum(0)  # 250, 40, 10
    prior = total ** lam / (total ** lam).sum() / total
    s = [1, 2]  # S_k
    score = []
    for row in counts:
        present = [c for c in s if row[c] > 0]
        z = sum(row[c] ** lam for c in present)
        score.append(sum(row[c] ** lam / z * prior[c] for c in present) if present else 0.0)
    score = np.array(score) / max(score)
    mu = np.median(score)
    expected = 0.1 + 1 / (1 + np.exp(-alpha * (score - mu)))
    np.testing.assert_allclose(soft_balance_weights(counts, s, lam, alpha), expected)
    np.testing.assert_allclose(soft_balance_weights(counts, s, lam, alpha, mu=0.3),
                               0.1 + 1 / (1 + np.exp(-alpha * (score - 0.3))))
    # an image without an uncertain class keeps at least the floor
    assert soft_balance_weights(counts, s, lam, alpha)[2] == pytest.approx(
        0.1 + 1 / (1 + np.exp(alpha * mu)))
    with pytest.raises(ValueError, match='lam'):
        soft_balance_weights(counts, s, lam=0)


class _Dataset:
    """A labelled dataset of ``n`` images with the files the stats name."""
    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, root, n):
        self.data_root = str(root)
        self.n = n

    def __len__(self):
        return self.n

    def get_data_info(self, i):
        return dict(seg_map_path=f'{self.data_root}/labels/{i}.png')


@pytest.fixture
def stats(tmp_path):
    rng = np.random.default_rng(0)
    records = []
    for i in range(10):
        rec = {'file': f'labels/{i}.png', '0': int(rng.integers(100, 1000))}
        if i % 3 == 0:
            rec['2'] = int(rng.integers(1, 50))
        if i % 2:
            rec['1'] = int(rng.integers(1, 200))
        records.append(rec)
    (tmp_path / 'sample_class_stats.json').write_text(json.dumps(records))
    return tmp_path


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_deterministic_weighted_and_resumable(stats):
    ds = _Dataset(stats, 10)
    a = SoftBalanceSampler(ds, seed=3, alpha=20.0)
    assert np.all(a.weights == 1)  # uniform until S_k is known
    a.set_uncertain_classes([2])
    b = SoftBalanceSampler(ds, seed=3, alpha=20.0)
    b.load_state_dict(a.state_dict())  # what a resumed run restores
    assert _take(a, 500) == _take(b, 500)
    freq = np.bincount(_take(a, 8000), minlength=10) / 8000
    np.testing.assert_allclose(freq, a.weights / a.weights.sum(), atol=0.02)
    with_rare = [i for i in range(10) if i % 3 == 0]
    assert a.weights[with_rare].min() > 1.5 * np.delete(a.weights, with_rare).max()
    assert a.class_sampling_rate()[2] > 0.5  # 4 of 10 images hold class 2
    with pytest.raises(ValueError, match='seed'):
        SoftBalanceSampler(ds, seed=4).load_state_dict(a.state_dict())


def test_each_rank_draws_its_share(stats):
    ds = _Dataset(stats, 10)
    ranks = []
    for r in range(2):
        s = SoftBalanceSampler(ds, seed=0)
        s.rank, s.world_size = r, 2
        s.set_uncertain_classes([1, 2])
        ranks.append(_take(s, 15))
        assert len(s) == 5
    one = SoftBalanceSampler(ds, seed=0)
    one.set_uncertain_classes([1, 2])
    # the two ranks interleave the global sequence drawn with a chunk of ceil(10 / 2) * 2
    import torch
    seq = []
    for chunk in range(3):
        g = torch.Generator().manual_seed(chunk)
        seq += torch.multinomial(torch.as_tensor(one.weights), 10, True, generator=g).tolist()
    assert ranks[0] == seq[0::2] and ranks[1] == seq[1::2]


def test_bad_statistics(stats, tmp_path_factory):
    with pytest.raises(ValueError, match=r'has no entry for .*labels/10.png'):
        SoftBalanceSampler(_Dataset(stats, 11))
    other = tmp_path_factory.mktemp('other')
    (other / 'sample_class_stats.json').write_text(json.dumps([{'file': 'labels/0.png', '7': 3}]))
    with pytest.raises(ValueError, match=r"class key '7', outside \[0, 3\)"):
        read_class_counts(str(other / 'sample_class_stats.json'), ['labels/0.png'], 3)
    with pytest.raises(FileNotFoundError, match='sample_class_stats.json'):
        SoftBalanceSampler(_Dataset(other / 'missing', 1))
    with pytest.raises(ValueError, match=r'outside \[0, 3\)'):
        SoftBalanceSampler(_Dataset(stats, 10)).set_uncertain_classes([3])
