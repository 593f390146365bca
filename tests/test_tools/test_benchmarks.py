"""tools/benchmark/train_speed.py and label_throughput.py run end to end and print their tables.

Smoke tests with tiny settings: every mode is in the table and every number is finite. They do not
assert any speed (timings on a shared CPU are noise at this size).
"""
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
    out = run_tool('train_speed.py')
    rows = table(out)
    assert set(rows) == {'supervised', 'sfda', 'uda'}
    numeric = ['ms/it (median)', 'ratio to supervised', 'peak RSS of its process (MiB)',
               'peak RSS above imports (MiB)']
    for row in rows.values():
        assert_finite(row, numeric)
    assert float(rows['supervised']['ratio to supervised']) == 1.0
    assert 'device: ' in out and 'settings: ' in out
    assert 'targets (GPU' in out and 'not checked' in out  # verdicts only on cuda


def test_train_speed_refuses_amp_on_cpu():
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', 'train_speed.py'),
                           *TINY, '--amp'], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode != 0 and 'unsupported on cpu' in proc.stderr


def test_label_throughput_table():
    out = run_tool('label_throughput.py')
    rows = table(out)
    assert set(rows) == {'predict', 'encode_decode', 'threshold', 'class_balanced'}
    for row in rows.values():
        assert_finite(row, ['images/s (median)', 'ms/batch (median)',
                            'throughput ratio to predict'])
    assert float(rows['predict']['throughput ratio to predict']) == 1.0
    assert 'target (GPU)' in out and 'not checked' in out

