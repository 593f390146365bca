"""tools/analysis/select_checkpoint.py on a JSON written by CheckpointSelectionHook."""
import importlib.util
import json
import os.path as osp
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conftest import REPO

TOOL = osp.join(REPO, 'tools', 'analysis', 'select_checkpoint.py')
CURVE = {1000: (40.0, 0.10), 2000: (42.0, 0.08), 3000: (45.0, 0.07), 4000: (44.5, 0.05),
         5000: (38.0, 0.03)}


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('select_checkpoint', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Logger:
    def info(self, msg):
        pass

    def warning(self, msg):
        pass


def write_run(work_dir, missing=(5000,)):
    """A work dir with checkpoints (all but ``missing``) and the hook's JSON."""
    from mmsfda.engine.hooks import CheckpointSelectionHook
    work_dir.mkdir(parents=True, exist_ok=True)
    runner = SimpleNamespace(work_dir=str(work_dir), iter=0, epoch=0, logger=_Logger())
    hook = CheckpointSelectionHook()
    for it, (miou, ece) in CURVE.items():
        runner.iter = it
        (work_dir / f'iter_{it}.pth').write_bytes(b'x')
        hook.after_val_epoch(runner, dict(mIoU=miou, ECE=ece, aAcc=90.0))
    for it in missing:
        (work_dir / f'iter_{it}.pth').unlink()  # removed later by max_keep_ckpts
    return work_dir


def test_table_and_picks(tool, tmp_path, capsys):
    work_dir = write_run(tmp_path / 'run')
    assert tool.main([str(work_dir)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert '5 validations' in lines[0]
    header = lines[1].split()
    assert header[:4] == ['iter', 'mIoU', 'ECE', 'aAcc']
    rows = {ln.split()[0]: ln for ln in lines[3:8]}
    assert set(rows) == {'1000', '2000', '3000', '4000', '5000'}
    assert '45.0000' in rows['3000'] and 'max_miou' in rows['3000']
    assert 'min_ece' in rows['4000'] and 'min_ece_within_miou' in rows['4000']
    assert 'iter_5000.pth (gone)' in rows['5000']
    # the first rule is the default (*); all presets are listed
    assert f" * min_ece: iter 4000 (ECE 0.0500) {work_dir / 'iter_4000.pth'}" in out
    assert '   max_miou: iter 3000' in out
    assert '   min_ece_within_miou: iter 4000' in out
    assert "   min_est_ece: n/a (rule 'min_est_ece' needs the metric 'EstECE'" in out


def test_print_path(tool, tmp_path, capsys):
    work_dir = write_run(tmp_path / 'run')

    def path(*args):
        assert tool.main([str(work_dir), '--print-path', *args]) == 0
        return capsys.readouterr().out

    assert path('--rule', 'max_miou') == f"{work_dir / 'iter_3000.pth'}\n"
    assert path('--rule', 'min_ece_within_miou', '--margin', '1.0') == \
        f"{work_dir / 'iter_4000.pth'}\n"
    assert path('--rule', 'min_ece_within_miou', '--margin', '0') == \
        f"{work_dir / 'iter_3000.pth'}\n"
    assert path() == f"{work_dir / 'iter_4000.pth'}\n"  # min_ece, the hook's first rule
    # the lowest ECE (5000) has no file any more: --include-missing picks it but prints no path
    assert tool.main([str(work_dir), '--print-path', '--include-missing']) == 1
    captured = capsys.readouterr()
    assert captured.out == '' and 'iter 5000' in captured.err and 'no longer exists' in captured.err
    assert tool.main([str(work_dir), '--include-missing']) == 0
    assert ' * min_ece: iter 5000' in capsys.readouterr().out


def test_errors(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / 'checkpoint_selection.json') in err and 'CheckpointSelectionHook' in err
    work_dir = write_run(tmp_path / 'run')
    assert tool.main([str(work_dir), '--rule', 'lowest']) == 2
    assert 'unknown rule' in capsys.readouterr().err
    assert tool.main([str(work_dir), '--rule', 'min_est_ece', '--print-path']) == 1
    err = capsys.readouterr().err
    assert "'EstECE'" in err and "['ECE', 'aAcc', 'mIoU']" in err
    # every checkpoint gone: no path, exit status 1, nothing on stdout
    for p in work_dir.glob('iter_*.pth'):
        p.unlink()
    assert tool.main([str(work_dir), '--print-path']) == 1
    captured = capsys.readouterr()
    assert captured.out == '' and 'picks no checkpoint' in captured.err
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'checkpoint_selection.json').write_text(json.dumps({'ECE': 0.1}))
    assert tool.main([str(tmp_path / 'bad')]) == 2
    assert 'not a CheckpointSelectionHook file' in capsys.readouterr().err


def test_moved_work_dir(tool, tmp_path, capsys):
    write_run(tmp_path / 'old')
    shutil.move(str(tmp_path / 'old'), str(tmp_path / 'new'))
    assert tool.main([str(tmp_path / 'new'), '--print-path', '--rule', 'max_miou']) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / 'new' / 'iter_3000.pth')


def test_shell_pipeline(tmp_path):
    work_dir = write_run(tmp_path / 'run')
    proc = subprocess.run([sys.executable, TOOL, str(work_dir), '--rule', 'min_ece_within_miou',
                           '--print-path'], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == f"{work_dir / 'iter_4000.pth'}\n"
