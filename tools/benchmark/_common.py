"""What the speed benchmarks share: options, models, synthetic batches, devices, timing, tables.

Used by ``train_speed.py`` and ``label_throughput.py`` (same folder); not a tool of its own.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import torch  # noqa: E402
from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import mmsfda  # noqa: E402,F401

init_default_scope('mmseg')
# The current logger: keeps init_weights' per-parameter INFO lines out of the tables.
MMLogger.get_instance('mmsfda_benchmark', log_level='WARNING')

MODEL_CONFIGS = {
    'r18-tiny': 'configs/_base_/models/deeplabv2_r18-tiny.py',
    'r18-tiny-proda': 'configs/_base_/models/deeplabv2-proda_r18-tiny.py',  # DiGA's head
    'r101': 'configs/_base_/models/deeplabv2_r101.py',
    'mit-tiny': 'configs/_base_/models/daformer_mit-tiny.py',  # DAFormer's net, toy width
    'mitb5': 'configs/_base_/models/daformer_mitb5.py',
}
# The DACS config is the single source of the method's settings (labeler, mixer, augmentation,
# loss, EMA momentum): the benchmark measures what that config trains, with the student swapped.
DACS_CONFIG = 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
GPU_CROP = (512, 512)
CPU_CROPS = {'r18-tiny': (128, 256), 'r18-tiny-proda': (128, 256), 'r101': (256, 256),
             'mit-tiny': (128, 256),
             'mitb5': (256, 256)}
MEMORY_PROBE_TAG = 'MEMORY_PROBE'
_MIB = 2.0 ** 20


# ---------------------------------------------------------------------------------- options
def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--model', choices=sorted(MODEL_CONFIGS), default='r18-tiny',
                        help='base model config: DeepLabV2 with a tiny ResNet-18 (toy benchmark) '
                             'or the papers\' ResNet-101; DAFormer (MiT + DAFormerHead) at toy '
                             'width or MiT-B5 (random init, no download)')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast')
    parser.add_argument('--crop', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help=f'input size; default {GPU_CROP} on cuda, on cpu {CPU_CROPS}')
    parser.add_argument('--batch', type=int, default=2, help='images per batch (and per domain)')
    parser.add_argument('--iters', type=int, default=20, help='timed iterations per mode')
    parser.add_argument('--warmup', type=int, default=3, help='untimed iterations per mode')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='default: the model config\'s (10 for r18-tiny, 19 for r101)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of torch; default 1 on cpu (on a shared machine OpenMP '
                             'threads spin-wait for busy cores: 2 threads measured 100x slower '
                             'than 1 under load), torch\'s default on cuda')
    parser.add_argument('--seed', type=int, default=0)


def finalize_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Fill the defaults that depend on the device and model; check the device."""
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available to this torch build')
    if args.crop is None:
        args.crop = GPU_CROP if args.device == 'cuda' else CPU_CROPS[args.model]
    args.crop = tuple(args.crop)
    if args.num_classes is None:
        args.num_classes = int(Config.fromfile(model_config_path(args.model)).model.decode_head
                               .num_classes)
    if min(args.batch, args.iters, *args.crop,
           1 if args.threads is None else args.threads) < 1 or args.warmup < 0:
        parser.error('--batch, --iters, --crop and --threads must be positive, --warmup '
                     'non-negative')
    if args.threads is None and args.device == 'cpu':
        args.threads = 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.device == 'cuda':
        torch.backends.cudnn.benchmark = True  # as configs/_base_/default_runtime.py
    return args


def model_config_path(model: str) -> str:
    return osp.join(REPO, MODEL_CONFIGS[model])


# ---------------------------------------------------------------------------------- models
def student_cfg(model: str, num_classes: int, crop: Sequence[int]) -> ConfigDict:
    """The plain mmseg ``EncoderDecoder`` config of ``--model``, padded to ``crop``, no download."""
    cfg = Config.fromfile(model_config_path(model)).model
    cfg.decode_head.num_classes = num_classes
    cfg.data_preprocessor.size = tuple(crop)
    cfg.backbone.init_cfg = None
    return cfg  # a ConfigDict, as a config file gives it (EncoderDecoder reads test_cfg.mode)


def dacs_method() -> Config:
    """The DACS config (its ``model`` and ``custom_hooks`` give the method's settings)."""
    return Config.fromfile(osp.join(REPO, DACS_CONFIG))


def build_model(cfg: dict, device: torch.device) -> torch.nn.Module:
    model = MODELS.build(cfg)
    model.init_weights()
    return model.to(device)


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on ``device`` when ``amp``, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()


# ---------------------------------------------------------------------------------- batches
def make_batch(batch: int, crop: Sequence[int], num_classes: int, labelled: bool = True,
               generator: Optional[torch.Generator] = None) -> dict:
    """A synthetic mmseg data batch, as a dataloader yields it (CPU tensors).

    Returns:
        dict: ``inputs``: ``batch`` uint8 [3, H, W] images; ``data_samples``: SegDataSamples with
        metainfo ``img_shape``/``ori_shape``/``pad_shape`` = crop and, if ``labelled``, a
        ``gt_sem_seg`` of blocky random labels [1, H, W] (8x8 blocks, classes in [0, num_classes)),
        so that mixing masks look like regions rather than salt-and-pepper.
    """
    h, w = crop
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        if labelled:
            blocks = torch.randint(0, num_classes, (1, -(-h // 8), -(-w // 8)), generator=generator)
            label = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)[:, :h, :w]
            sample.gt_sem_seg = PixelData(data=label)  # int64, as PackSegInputs gives
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


# ---------------------------------------------------------------------------------- devices
def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def device_description(device: torch.device) -> str:
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        return (f'{torch.cuda.get_device_name(device)} ({props.total_memory / 2 ** 30:.0f} GiB), '
                f'torch {torch.__version__}, CUDA {torch.version.cuda}')
    name = 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            name = next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name'))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return (f'{name}, {cores} cores available, torch {torch.__version__} with '
            f'{torch.get_num_threads()} threads')


def load_average() -> str:
    try:
        return ' / '.join(f'{x:.2f}' for x in os.getloadavg()) + ' (1 / 5 / 15 min)'
    except OSError:
        return 'unknown'


def peak_memory_mib(device: torch.device) -> float:
    """Peak since the start (CUDA: ``reset_peak_memory_stats``): allocated GPU memory or CPU RSS."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / _MIB
    return _proc_status_mib('VmHWM')


def current_rss_mib() -> float:
    return _proc_status_mib('VmRSS')


def _proc_status_mib(key: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024.0  # kB
    raise RuntimeError(f'{key} missing from /proc/self/status')


# ---------------------------------------------------------------------------------- timing
def time_interleaved(steps: Dict[str, Callable[[], object]], iters: int, warmup: int,
                     device: torch.device) -> Dict[str, List[float]]:
    """Milliseconds of every call of each step, the steps taking turns.

    One round calls every step once, in alternating order (forwards, then backwards), so a change
    of the machine's load hits all steps alike; compare them round by round or by their medians.

    Returns:
        dict: step name -> ``iters`` times in ms.
    """
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    sync(device)
    times = {name: [] for name in names}
    for i in range(iters):
        for name in (names if i % 2 == 0 else names[::-1]):
            sync(device)
            start = time.perf_counter()
            steps[name]()
            sync(device)
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def paired_ratio(times: Sequence[float], baseline: Sequence[float]) -> float:
    """Median over rounds of ``times[i] / baseline[i]`` (robust to load changes between rounds)."""
    return statistics.median(t / b for t, b in zip(times, baseline))


def iqr(values: Sequence[float]) -> str:
    if len(values) < 2:
        return '-'
    q = statistics.quantiles(values, n=4, method='inclusive')
    return f'{q[0]:.1f}-{q[2]:.1f}'


# ---------------------------------------------------------------------------------- memory probes
def run_memory_probes(script: str, argv: Sequence[str], modes: Sequence[str]) -> Dict[str, dict]:
    """Run ``script argv --memory-probe MODE`` in a fresh process per mode; collect its report.

    The child prints one line ``MEMORY_PROBE {json}`` (see :func:`report_memory_probe`); a fresh
    process per mode keeps the modes' allocations and peaks apart.
    """
    out = {}
    for mode in modes:
        proc = subprocess.run([sys.executable, script, *argv, '--memory-probe', mode],
                              capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MEMORY_PROBE_TAG + ' ')]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f'memory probe of mode {mode!r} failed (exit {proc.returncode}):\n'
                               f'{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
        out[mode] = json.loads(lines[-1].split(' ', 1)[1])
    return out


def report_memory_probe(device: torch.device, baseline_rss_mib: float) -> None:
    """Print the peak memory of this process as the line :func:`run_memory_probes` reads."""
    sync(device)
    report = dict(peak_mib=peak_memory_mib(device))
    if device.type == 'cpu':
        report['above_import_mib'] = report['peak_mib'] - baseline_rss_mib
    print(MEMORY_PROBE_TAG, json.dumps(report), flush=True)


def forwarded_argv(argv: Sequence[str]) -> List[str]:
    """This command line without ``--memory-probe X`` (what a probe child is started with)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == '--memory-probe':
            skip = True
        elif not arg.startswith('--memory-probe='):
            out.append(arg)
    return out


# ---------------------------------------------------------------------------------- output
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ['| ' + ' | '.join(headers) + ' |', '| ' + ' | '.join('---' for _ in headers) + ' |']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def settings_line(args: argparse.Namespace, precision: str) -> str:
    return (f'model={args.model} ({MODEL_CONFIGS[args.model]}, random init), '
            f'classes={args.num_classes}, crop={args.crop[0]}x{args.crop[1]}, batch={args.batch}, '
            f'precision={precision}, iters={args.iters} timed + {args.warmup} warm-up per mode, '
            f'seed={args.seed}')
