"""tools/benchmark/train_speed.py, label_throughput.py, fda.py and gmm.py run end to end and print
tables.

Smoke tests with tiny settings: every mode is in the table and every number is finite. They do not
assert any speed (timings on a shared CPU are noise at this size).
"""
import glob
import json
import math
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['--model', 'r18-tiny', '--device', 'cpu', '--crop', '32', '64', '--batch', '1',
        '--iters', '2', '--warmup', '1']


def run_tool(name, *args):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', name), *TINY,
                           *args], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def table(stdout):
    """{first cell: [cells]} of the Markdown table's body rows."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith('|')]
    assert len(lines) >= 3, stdout
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip('|').split('|')]
        assert len(cells) == len(header), ln
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def assert_finite(row, columns):
    for col in columns:
        value = float(row[col])
        assert math.isfinite(value) and value > 0, (col, row)


def test_train_speed_table():
    out = run_tool('train_speed.py', '--modes', 'dacs', 'cbst', 'calsfda')
    rows = table(out)
    assert set(rows) == {'supervised', 'dacs', 'cbst', 'calsfda'}
    numeric = ['ms/it (median)', 'ratio to supervised', 'peak RSS of its process (MiB)',
               'peak RSS above imports (MiB)']
    for row in rows.values():
        assert_finite(row, numeric)
    assert float(rows['supervised']['ratio to supervised']) == 1.0
    assert 'ClassMix' in rows['dacs']['one iteration'] and 'EMA' in rows['dacs']['one iteration']
    assert 'offline labels' in rows['cbst']['one iteration']
    assert 'device: ' in out and 'settings: ' in out
    assert 'targets (GPU' in out and 'time: not checked' in out  # time verdicts only on cuda
    assert 'dacs peak memory above imports (CPU RSS)' in out


def test_train_speed_bf16_and_channels_last_on_cpu():
    out = run_tool('train_speed.py', '--amp', '--channels-last', '--no-memory',
                   '--modes', 'tent', 'shot-im')
    rows = table(out)
    assert set(rows) == {'supervised', 'tent', 'shot-im'}
    for row in rows.values():
        assert_finite(row, ['ms/it (median)', 'ratio to supervised'])
    assert 'bf16 autocast, channels_last' in out


def test_train_speed_daformer_and_mic_on_their_network():
    out = run_tool('train_speed.py', '--model', 'mit-tiny', '--no-memory',
                   '--modes', 'daformer', 'mic')
    rows = table(out)
    assert set(rows) == {'supervised', 'daformer', 'mic'}
    for row in rows.values():
        assert_finite(row, ['ms/it (median)', 'ratio to supervised'])
    assert 'model=mit-tiny' in out
    assert 'feature distance' in rows['daformer']['one iteration']
    assert 'masked target' in rows['mic']['one iteration']
    assert 'masked target' not in rows['daformer']['one iteration']


def test_fda_benchmark_table():
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', 'fda.py'),
                           '--batch', '2', '--size', '32', '64', '--beta', '0.1', '--iters', '1',
                           '--device', 'cpu'], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = table(proc.stdout)
    assert len(rows) == 2 and 'max |torch - numpy|' in proc.stdout
    diff = float(proc.stdout.split('max |torch - numpy| = ')[1].split()[0])
    assert diff < 1e-2


def test_gmm_benchmark_table():
    """The three columns (EM on the pixels, the labeler's streamed histogram, scikit-learn) agree:
    the pixel EM to float32 rounding, the histogram to its quantisation."""
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', 'gmm.py'),
                           '--classes', '3', '--pixels', '5000', '--chunk', '4000', '--device',
                           'cpu'], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = table(proc.stdout)
    for cell in list(rows['wall time (s)'].values())[1:]:
        assert math.isfinite(float(cell))
    pixel_em, streamed = list(rows['max abs diff to scikit-learn (means / variances / weights)'
                                   ].values())[1:3]
    assert max(float(v) for v in pixel_em.split(' / ')) < 1e-5
    assert max(float(v) for v in streamed.split(' / ')) < 2e-3  # bin width 1/2048, EM tol 1e-3
    differ = list(rows['assignments differing from scikit-learn'].values())[1:3]
    assert all(int(cell.split(' of ')[0]) <= 15 for cell in differ), differ  # of 15000


def test_label_throughput_table():
    out = run_tool('label_throughput.py')
    rows = table(out)
    assert set(rows) == {'predict', 'encode_decode', 'threshold', 'class_balanced'}
    for row in rows.values():
        assert_finite(row, ['images/s (median)', 'ms/batch (median)',
                            'throughput ratio to predict'])
    assert float(rows['predict']['throughput ratio to predict']) == 1.0
    assert 'target (GPU)' in out and 'not checked' in out


# ------------------------------------------------------------------ the adaptation benchmark and demo
# Each script's whole config set, on tiny data under a root other than data/toy, one iteration per
# run: every data root of every config (train, val, label and hook dataloaders) must follow --data.
QUICK = ['--seeds', '0', '--quick', '1', '--toy-size', '4', '2', '32', '64']


def run_script(path, *args, timeout=1200):
    proc = subprocess.run([sys.executable, osp.join(REPO, path), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def assert_runs_read_only(work_dir, data_root, expected_runs):
    """Every run's resolved config names ``data_root`` and never the default data/toy."""
    manifests = glob.glob(osp.join(work_dir, '**', 'run_manifest.json'), recursive=True)
    assert len(manifests) == expected_runs, manifests
    for path in manifests:
        with open(path) as f:
            manifest = json.load(f)
        with open(manifest['resolved_config']) as f:
            text = f.read()
        assert 'data/toy' not in text, path
        assert data_root in text and all(r.startswith(data_root) for r in manifest['parts']['data'])


def table_rows(stdout, title):
    """Body rows ({first cell: cells}) of the Markdown table printed after the line ``title``."""
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(title))
    body = []
    for ln in lines[start + 3:]:
        if not ln.startswith('|'):
            break
        body.append([c.strip() for c in ln.strip('|').split('|')])
    return {cells[0]: cells for cells in body}


def test_adaptation_benchmark_on_another_data_root(tmp_path):
    data = str(tmp_path / 'shifted_data' / 'bench')
    work = str(tmp_path / 'work')
    # One baseline of each kind of data path: target-only, offline rounds with their own label
    # loader, source/target pairs with two optimisers, and DAFormer's net (pairs, EMA teacher)
    # with its own source model.
    args = ['--data', data, '--work-dir', work, '--shifts', 'night:1', *QUICK,
            '--only', 'adabn', 'cbst', 'advent', 'daformer']
    out = run_script('tools/benchmark/adaptation.py', *args)
    methods = ['source-only', 'source-only (MiT)', 'AdaBN (SFDA)', 'CBST (SFDA)', 'AdvEnt (UDA)',
               'DAFormer (UDA)']
    rows = table_rows(out, 'shift night-1')
    assert list(rows) == methods
    for cells in rows.values():
        last, oracle = (float(cells[i].split(' ± ')[0]) for i in (2, 5))  # target mIoU
        assert 0 <= last <= oracle <= 100
    assert osp.isfile(osp.join(data + '_night-1', 'meta.json'))
    # two source models, four adaptations, all on the night data
    assert_runs_read_only(work, data, expected_runs=6)
    with open(osp.join(work, 'shift_night-1', 'cbst-sfda_seed0', 'run_manifest.json')) as f:
        cbst = json.load(f)
    from mmengine.config import Config
    label_loader = Config.fromfile(cbst['resolved_config']).train_cfg.label_dataloader
    assert label_loader.dataset.data_root == f'{data}_night-1/target'

    # The same command again: every run and every evaluation is reused, the table is the same.
    again = run_script('tools/benchmark/adaptation.py', *args)
    assert again.count('reusing the finished run') == 6 and 'redoing' not in again
    assert 're-evaluating' not in again
    assert table_rows(again, 'shift night-1') == rows


def test_demo_on_another_data_root(tmp_path):
    data = str(tmp_path / 'other_data' / 'demo')
    work = str(tmp_path / 'work')
    out = run_script('tools/demo.py', '--data', data, '--work-dir', work, *QUICK[2:])
    assert '[5/5] results' in out
    lines = [ln for ln in out.splitlines() if ln.startswith('|')]
    names = [ln.strip('|').split('|')[0].strip() for ln in lines[2:]]
    assert names == ['source-only', 'source-only + ECE loss', 'TENT (SFDA)', 'DACS (UDA)']
    assert_runs_read_only(work, data, expected_runs=4)
    assert osp.isfile(osp.join(work, 'results.md'))


def test_fda_mbt_ensemble_of_three_betas(tmp_path):
    data, work = str(tmp_path / 'data'), str(tmp_path / 'work')
    out = run_script('tools/benchmark/fda_mbt.py', '--data', data, '--work-dir', work, *QUICK)
    rows = table_rows(out, 'FDA-MBT')
    assert list(rows) == ['source-only', 'FDA (UDA)', 'FDA beta 0.05 (UDA)',
                          'FDA beta 0.09 (UDA)', 'FDA-MBT ensemble (UDA)']
    for cells in rows.values():
        assert 0 <= float(cells[1].split(' ± ')[0]) <= 100
    from mmengine.config import Config
    betas = []
    for name in ('fda-uda', 'fda-beta-0-05-uda', 'fda-beta-0-09-uda'):
        with open(osp.join(work, f'{name}_seed0', 'run_manifest.json')) as f:
            resolved = json.load(f)['resolved_config']
        betas.append(Config.fromfile(resolved).model.style_transfer.beta)
    assert betas == [0.01, 0.05, 0.09]
    assert_runs_read_only(work, data, expected_runs=4)  # the source model and three members
    again = run_script('tools/benchmark/fda_mbt.py', '--data', data, '--work-dir', work, *QUICK)
    assert table_rows(again, 'FDA-MBT') == rows and 'redoing' not in again


def test_diga_report_only_trains_nothing_and_names_the_missing_run(tmp_path):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', 'diga.py'),
                           '--seeds', '1', '--work-dir', str(tmp_path), '--report-only'],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode != 0
    missing = osp.join(str(tmp_path), 'seed1', 'source', 'iter_300.pth')
    assert f'--report-only: {missing} is missing' in proc.stderr, proc.stderr[-2000:]
    assert '--seeds 1 --only source' in proc.stderr
    assert not osp.exists(osp.join(str(tmp_path), 'seed1', 'source'))  # nothing was trained
