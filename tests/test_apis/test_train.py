import os

from mmsfda.apis import run_name, training_wall_time


def test_run_name_is_shared_slug():
    assert run_name('TENT (SFDA)', 0) == 'tent-sfda_seed0'
    assert run_name('source-only + ECE loss', 2) == 'source-only-ece-loss_seed2'


def test_training_wall_time_sums_resumed_parts(tmp_path):
    for stamp, lines in [('20261123_100000', ['10:00:00', '10:00:10', '10:01:40']),
                         ('20261123_110000', ['11:00:00', '11:00:30'])]:
        os.makedirs(tmp_path / stamp)
        with open(tmp_path / stamp / f'{stamp}.log', 'w') as f:
            for t in lines:
                f.write(f'2026/11/23 {t} - mmengine - INFO - Iter(train) ...\n')
            f.write('  a config line without a timestamp\n')
    os.makedirs(tmp_path / 'eval' / '20261123_120000')  # evaluation logs are not training
    assert training_wall_time(str(tmp_path)) == 100 + 30
