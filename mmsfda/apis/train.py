"""Run a training config through mmseg's own ``tools/train.py``: data root, content-keyed reuse, resume."""
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from datetime import datetime
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from ..utils import atomic_write, mmseg_tool_path
from .config_utils import changed_parts, config_key, config_key_parts, load_config

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


MANIFEST = 'run_manifest.json'


def read_cached_result(path: str, key: str) -> Optional[dict]:
    """The JSON result cached in ``path`` if it was written for ``key`` (its ``'key'`` entry),
    else ``None`` (no file, or one written for another run, dataset or setting)."""
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        cached = json.load(f)
    return cached if cached.get('key') == key else None


def add_toy_run_options(parser) -> None:
    """``--toy-size TRAIN VAL H W`` and ``--quick ITERS`` of ``tools/demo.py`` and the toy
    benchmarks (an ``argparse.ArgumentParser``): the generated toy data's size and the smoke run
    that :func:`~mmsfda.apis.shorten_schedule` makes of every run."""
    parser.add_argument('--toy-size', type=int, nargs=4, metavar=('TRAIN', 'VAL', 'H', 'W'),
                        default=(400, 100, 128, 256),
                        help='images per domain and size of the generated toy data')
    parser.add_argument('--quick', type=int, metavar='ITERS', default=None,
                        help='smoke run: ITERS iterations per run, tiny batches (for tests; the '
                             'numbers mean nothing)')


def read_manifest(work_dir: str) -> Optional[dict]:
    """The manifest :func:`train_config` keeps in ``work_dir`` (``None`` if there is none)."""
    path = osp.join(work_dir, MANIFEST)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except ValueError as e:  # written atomically, so only a hand edit gets here
        raise ValueError(f'{path}: not valid JSON ({e}); delete it to redo the run') from e


def _max_iters(cfg: Config) -> int:
    # SelfTrainingLoop configs give `rounds` (iterations per round) instead of max_iters.
    # AdaBN trains for 0 iterations and saves iter_0.pth.
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('max_iters') is not None:
        return int(train_cfg.max_iters)
    if train_cfg.get('rounds'):
        return int(sum(train_cfg.rounds))
    raise ValueError(f'{cfg.filename}: train_cfg has neither max_iters nor rounds')


def _set_aside(work_dir: str, why: str) -> None:
    """Move a run that must not be reused to ``<work_dir>.stale`` (replacing an older one)."""
    stale = work_dir.rstrip(os.sep) + '.stale'
    print(f'[train_config] {work_dir}: redoing the run: {why}; the old run moves to {stale}',
          flush=True)
    if osp.exists(stale):
        shutil.rmtree(stale)
    os.replace(work_dir, stale)


def finished_run(config: str, work_dir: str, cfg_options: Sequence[str] = (),
                 data_root: Optional[str] = None, old_root: Optional[str] = None,
                 edit: Optional[Callable[[Config], None]] = None) -> Optional[str]:
    """The final checkpoint :func:`train_config` would reuse with these arguments, else ``None``.

    Trains nothing: for reports over runs that may not all be done.
    """
    cfg = load_config(config, cfg_options, data_root, old_root)
    if edit is not None:
        edit(cfg)
    manifest = read_manifest(work_dir)
    final = osp.join(work_dir, f'iter_{_max_iters(cfg)}.pth')
    if manifest is None or not osp.isfile(final):
        return None
    if cfg.get('load_from') and not osp.isfile(cfg.load_from):
        return None
    return final if manifest.get('key') == config_key(cfg) else None


def train_config(config: str, work_dir: str, cfg_options: Sequence[str] = (),
                 desc: Optional[str] = None, data_root: Optional[str] = None,
                 old_root: Optional[str] = None,
                 edit: Optional[Callable[[Config], None]] = None) -> str:
    """Train ``config`` into ``work_dir`` and return the final checkpoint's path.

    The config is resolved here (``cfg_options`` merged, every data root moved to ``data_root``;
    see :func:`~mmsfda.apis.config_utils.redirect_data_root`), written to
    ``<work_dir>/config/<name>.py`` and trained by mmseg's own ``tools/train.py``.

    Runs are cached by content: ``<work_dir>/run_manifest.json`` holds the key of the resolved
    config text, the ``load_from`` checkpoint's content and the toy data's ``meta.json``
    (:func:`~mmsfda.apis.config_utils.config_key`). A finished run (``iter_<max_iters>.pth``) with
    the same key is returned as it is, an interrupted one resumes from its last checkpoint; a run
    with another key (or none: written before manifests existed) moves to ``<work_dir>.stale`` and
    is redone, with a line saying what changed. The run's output goes to ``<work_dir>/train.log``;
    a progress bar follows the iterations.

    Args:
        config (str): Config file.
        work_dir (str): Work directory of the run.
        cfg_options (Sequence[str]): ``key=value`` overrides, parsed as ``--cfg-options`` does.
        desc (str, optional): Label of the progress bar.
        data_root (str, optional): Data root replacing ``old_root`` in every dataset of the config.
        old_root (str, optional): The root to replace (default ``'data/toy'``).
        edit (callable, optional): Changes the parsed config in place after the options and the
            data root (e.g. :func:`~mmsfda.apis.config_utils.shorten_schedule` in tests); what it
            changes is in the resolved config, hence in the key.
    """
    from tqdm import tqdm
    cfg = load_config(config, cfg_options, data_root, old_root)
    if edit is not None:
        edit(cfg)
    max_iters = _max_iters(cfg)
    parts, key = config_key_parts(cfg), config_key(cfg)
    final = osp.join(work_dir, f'iter_{max_iters}.pth')
    manifest = read_manifest(work_dir)
    if manifest is not None and manifest.get('key') != key:
        changed = changed_parts(manifest.get('parts', {}), parts)
        _set_aside(work_dir, 'changed since it was made: ' + (', '.join(changed) or 'key'))
    elif manifest is None and osp.isdir(work_dir) and os.listdir(work_dir):
        _set_aside(work_dir, f'no {MANIFEST} (made by an older version), so its inputs are unknown')
    elif manifest is not None and osp.isfile(final):
        print(f'[train_config] {work_dir}: reusing the finished run (same config, load_from and '
              f'data: key {key[:12]})', flush=True)
        return final
    os.makedirs(work_dir, exist_ok=True)
    resolved = osp.join(work_dir, 'config', osp.basename(config))
    atomic_write(resolved, cfg.pretty_text)
    atomic_write(osp.join(work_dir, MANIFEST), json.dumps(dict(
        key=key, parts=parts, config=config, cfg_options=list(cfg_options), data_root=data_root,
        resolved_config=resolved, max_iters=max_iters), indent=1) + '\n')
    cmd = [sys.executable, mmseg_tool_path('train.py'), resolved, '--work-dir', work_dir]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        # The same command plus --resume: mmsfda.compat resumes from the work dir's last
        # checkpoint; load_from only initialises a fresh run.
        cmd.append('--resume')
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
