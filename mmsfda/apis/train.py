"""Run a training config through mmseg's own ``tools/train.py``, resuming a partial run."""
import ast
import glob

import os
import os.path as osp
import re
import subprocess
import sys
from datetime import datetime
from typing import Optional, Sequence

from mmengine.config import Config

from ..utils import mmseg_tool_path

_ITER = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')


_STAMP = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def training_wall_time(work_dir: str) -> float:
    """Seconds the training runs in ``work_dir`` took, from mmengine's log timestamps.

    Sums first-to-last log line over every run log (``<work_dir>/<timestamp>/<timestamp>.log``), so a
    resumed run counts all its parts; validation during training is included.
    """
    total = 0.
    for log in glob.glob(osp.join(work_dir, '2*', '2*.log')):
        with open(log) as f:
            stamps = [m.group(1) for m in map(_STAMP.match, f) if m]
        if stamps:
            fmt = '%Y/%m/%d %H:%M:%S'
            total += (datetime.strptime(stamps[-1], fmt) - datetime.strptime(stamps[0], fmt)
                      ).total_seconds()
    return total


def run_name(method: str, seed: int) -> str:
    """Work-directory name of one run, shared by the demo and the benchmarks so they reuse runs:
    ``run_name('TENT (SFDA)', 0) == 'tent-sfda_seed0'``."""
    slug = ''.join(c if c.isalnum() else '-' for c in method.lower())
    while '--' in slug:
        slug = slug.replace('--', '-')
    return f"{slug.strip('-')}_seed{seed}"


def train_config(config: str, work_dir: str, cfg_options: Sequence[str] = (),
                 desc: Optional[str] = None) -> str:
    """Train ``config`` into ``work_dir`` and return the final checkpoint's path.

    A finished run (``iter_<max_iters>.pth`` present) is not repeated; an interrupted one resumes from
    its last checkpoint. The run's output goes to ``<work_dir>/train.log``; a progress bar follows
    the iterations.

    Args:
        config (str): Config file.
        work_dir (str): Work directory of the run.
        cfg_options (Sequence[str]): ``key=value`` overrides passed as ``--cfg-options``.
        desc (str, optional): Label of the progress bar.
    """
    from tqdm import tqdm
    cfg = Config.fromfile(config)
    opts = dict(o.split('=', 1) for o in cfg_options)
    # SelfTrainingLoop configs give `rounds` (iterations per round) instead of max_iters.
    rounds = opts.get('train_cfg.rounds')
    rounds = ast.literal_eval(rounds) if rounds else cfg.train_cfg.get('rounds', [0])
    default_iters = cfg.train_cfg.get('max_iters') or sum(rounds)
    max_iters = int(opts.get('train_cfg.max_iters', default_iters))
    final = osp.join(work_dir, f'iter_{max_iters}.pth')
    if osp.isfile(final):
        return final
    os.makedirs(work_dir, exist_ok=True)
    cmd = [sys.executable, mmseg_tool_path('train.py'), config, '--work-dir', work_dir]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
        # mmengine resumes from `load_from` when it is set (the source model of an adaptation
        # run), not from the work directory's last checkpoint: clear it.
        cfg_options = [o for o in cfg_options if not o.startswith('load_from=')] + \
            ['load_from=None']
    if cfg_options:

        cmd += ['--cfg-options', *cfg_options]
    log_path = osp.join(work_dir, 'train.log')
    with open(log_path, 'a') as log, tqdm(total=max_iters, desc=desc or osp.basename(work_dir),
                                          unit='it', leave=False) as bar:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        for line in proc.stdout:
            log.write(line)
            m = _ITER.search(line)
            if m:
                bar.update(int(m.group(1)) - bar.n)
        proc.wait()
    if proc.returncode != 0 or not osp.isfile(final):
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-40:])
        raise RuntimeError(f'training {config} failed (exit {proc.returncode}); '
                           f'log: {log_path}\n{tail}')
    return final
