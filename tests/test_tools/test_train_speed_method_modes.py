"""tools/benchmark/train_speed.py's modes for ATP's three steps, UPLR's adversarial step and T2S-DA
run end to end on tiny settings (the issues' step-time measurements use them). ATP's Propagate keeps
a PrototypeEstimator under ``aux['prototypes']``, the name DiGA's ClassPrototypes use: only the
latter has an initialisation pass. No speed is asserted (timings on a shared CPU are noise here)."""
import math
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = ['--device', 'cpu', '--crop', '32', '64', '--batch', '1', '--iters', '1', '--warmup', '1',
        '--no-memory']


def rows_of(stdout):
    """{mode: ms/it} of the Markdown table's body rows."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith('|')]
    assert len(lines) >= 3, stdout
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    col = header.index('ms/it (median)')
    return {cells[0]: float(cells[col]) for cells in
            ([c.strip() for c in ln.strip('|').split('|')] for ln in lines[2:])}


@pytest.mark.parametrize('model, modes', [
    ('r18-tiny', ['atp-align', 'atp-teach', 'atp-propagate', 'uplr-aa']),
    ('mit-tiny', ['daformer', 't2sda']),
], ids=['atp-uplr', 't2sda'])
def test_method_modes_run(model, modes):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'benchmark', 'train_speed.py'),
                           '--model', model, *TINY, '--modes', *modes],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = rows_of(proc.stdout)
    assert set(rows) == {'supervised', *modes}
    assert all(math.isfinite(v) and v > 0 for v in rows.values()), rows
