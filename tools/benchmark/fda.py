"""FDA amplitude swap: the batched torch module vs a per-image numpy loop, in the same run.

    python tools/benchmark/fda.py --batch 8 --size 512 1024 --beta 0.01 [--device cuda]

Prints a table: ms per batch (median over --iters) of ``mmsfda.models.augmentations.fda_swap`` on
the device and of a per-image ``numpy.fft`` loop on the CPU (the reference's numpy form), their
ratio, and the largest difference between the two outputs.
"""
import argparse
import statistics
import sys
import time

import numpy as np
import torch

import _common as C
from mmsfda.models.augmentations import fda_swap, fda_swap_numpy

TARGET_SPEEDUP = 20.0  # the target on a GPU, batch 8 of 1024x512


def numpy_loop(src: np.ndarray, tgt: np.ndarray, beta: float) -> np.ndarray:
    """One image at a time, as the reference's numpy ``FDA_source_to_target_np``."""
    return np.stack([fda_swap_numpy(s, t, beta) for s, t in zip(src, tgt)])


def timed(fn, iters, device):
    times = []
    for _ in range(iters):
        C.sync(device)
        t0 = time.perf_counter()
        fn()
        C.sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--size', type=int, nargs=2, default=(512, 1024), metavar=('H', 'W'))
    p.add_argument('--beta', type=float, default=0.01)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--device', choices=('cpu', 'cuda'), default=None)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    args = p.parse_args(argv)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    src = torch.rand(args.batch, 3, *args.size, generator=g) * 255
    tgt = torch.rand(args.batch, 3, *args.size, generator=g) * 255
    src_np, tgt_np = src.numpy(), tgt.numpy()
    src_d, tgt_d = src.to(device), tgt.to(device)
    fda_swap(src_d, tgt_d, args.beta)  # warm-up (CUDA context, FFT plans)
    t_torch = timed(lambda: fda_swap(src_d, tgt_d, args.beta), args.iters, device)
    t_np = timed(lambda: numpy_loop(src_np, tgt_np, args.beta), args.iters, device)
    diff = float(np.abs(fda_swap(src_d, tgt_d, args.beta).cpu().numpy()
                        - numpy_loop(src_np, tgt_np, args.beta)).max())
    speedup = statistics.median(t_np) / statistics.median(t_torch)
    print('## FDA amplitude swap: batched torch vs per-image numpy loop (same run)')
    print(f'device: {C.device_description(device)}; numpy loop on the CPU')
    print(f'batch {args.batch} x 3 x {args.size[0]} x {args.size[1]}, beta {args.beta}, '
          f'median of {args.iters} runs')
    print()
    print(C.markdown_table(
        ['implementation', 'ms / batch (median)', 'speed-up'],
        [[f'fda_swap (torch, {device.type}, batched)', f'{statistics.median(t_torch):.1f}',
          f'{speedup:.1f}x'],
         ['per-image numpy loop', f'{statistics.median(t_np):.1f}', '1.0x']]))
    print()
    print(f'max |torch - numpy| = {diff:.2e} (0-255 scale)')
    verdict = 'met' if speedup >= TARGET_SPEEDUP else 'NOT met'
    where = '' if device.type == 'cuda' else ' (the target is for a GPU; this run is on the CPU)'
    print(f'target: >= {TARGET_SPEEDUP:.0f}x on the device{where}: {speedup:.1f}x, {verdict}')


if __name__ == '__main__':
    sys.exit(main())
