"""Training-step speed and peak memory of self-training vs the plain supervised mmseg step.

Three modes, the same model (``--model``) in the same run, on synthetic batches:

* ``supervised``: ``EncoderDecoder.train_step`` on a labelled batch (forward/backward, SGD step);
* ``sfda``: ``SelfTrainingSegmentor(setting='sfda').train_step`` on an unlabelled target batch
  (teacher forward, pseudo-labels, student forward/backward, SGD step) + the EMA of
  ``MeanTeacherHook``;
* ``uda``: the DACS step, ``SelfTrainingSegmentor(setting='uda')`` on a labelled source batch and an
  unlabelled target batch (source forward/backward, teacher forward, pseudo-labels, ClassMix,
  StrongAugment, mixed forward/backward, SGD step) + the EMA.

The self-training settings (labeler, mixer, augmentation, loss, EMA momentum, SGD) come from the
DACS config (``_common.DACS_CONFIG``); ``sfda`` is the same without the source batch, mixer and
augmentation. Time: median ms per iteration over rounds in which the modes take turns; ratios are
medians of per-round ratios to ``supervised``. Peak memory: one fresh process per mode (CUDA:
``torch.cuda.max_memory_allocated``; CPU: peak RSS, ``VmHWM``).

    python tools/benchmark/train_speed.py --model r18-tiny --crop 128 256 --batch 4 --iters 20
    python tools/benchmark/train_speed.py --model r101 --device cuda --amp  # 512x512, batch 2
"""
import argparse
import statistics
import sys

import torch
from mmengine.optim import build_optim_wrapper
from mmseg.registry import HOOKS

import _common as C

MODES = ('supervised', 'sfda', 'uda')
# The GPU targets (512x512, batch 2, bf16 autocast): time ratios and the peak memory ratio.
TARGET_SETTINGS = dict(crop=(512, 512), batch=2, amp=True)
TIME_TARGETS = dict(sfda=1.5, uda=2.5)
MEMORY_TARGET = 1.3
# Synthetic random labels: a small lr keeps the weights finite for any number of iterations (the
# lr does not change the cost of a step).
LR = 1e-4


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    C.add_common_args(parser)
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak memory measurement (one process per mode)')
    parser.add_argument('--memory-probe', choices=MODES, help=argparse.SUPPRESS)
    args = C.finalize_args(parser, parser.parse_args(argv))
    if args.amp and args.device != 'cuda':
        parser.error('--amp is unsupported on cpu: mmengine\'s AmpOptimWrapper (bf16 autocast) '
                     'asserts a GPU, NPU, MLU or MUSA device; measure fp32 on cpu')
    return args


def self_training_cfg(setting: str, student: dict, method) -> dict:
    """``SelfTrainingSegmentor`` with the DACS config's settings (``sfda``: no source, no mix)."""
    m = method.model
    cfg = dict(type='SelfTrainingSegmentor', setting=setting, student=student,
               pseudo_labeler=m.pseudo_labeler, target_losses=m.target_losses,
               teacher_mode=m.teacher_mode)
    if setting == 'uda':
        cfg.update(mixer=m.mixer, strong_augment=m.strong_augment)
    return cfg


class TrainIteration:
    """One training iteration of a mode as mmengine's runner runs it: ``train_step``, then the EMA.

    The EMA is ``MeanTeacherHook.ema_update`` (the hook built from the DACS config), called with the
    hook's own ``alpha(t)`` as ``after_train_iter`` does; no runner is involved.
    """

    def __init__(self, mode: str, args, device: torch.device, method):
        student = C.student_cfg(args.model, args.num_classes, args.crop)
        cfg = student if mode == 'supervised' else self_training_cfg(mode, student, method)
        self.model = C.build_model(cfg, device).train()
        optim = dict(method.optim_wrapper)
        optim['optimizer'] = dict(optim['optimizer'], lr=LR)
        if args.amp:
            optim.update(type='AmpOptimWrapper', dtype='bfloat16')
        self.optim_wrapper = build_optim_wrapper(self.model, optim)
        self.ema = None
        if mode != 'supervised':
            self.ema = HOOKS.build(next(h for h in method.custom_hooks
                                        if h['type'] == 'MeanTeacherHook'))
            self.ema._collect(self.model)
        gen = torch.Generator().manual_seed(args.seed)

        def batch(labelled):
            return C.make_batch(args.batch, args.crop, args.num_classes, labelled, gen)

        if mode == 'supervised':
            self.data = batch(True)
        elif mode == 'sfda':
            self.data = batch(False)  # a plain target-only mmseg batch, no labels
        else:  # DomainPairDataset's layout; the target branch is unlabelled
            self.data = dict(source=batch(True), target=batch(False))
        self.iter = 0

    def __call__(self):
        self.model.train_step(self.data, self.optim_wrapper)
        self.iter += 1
        if self.ema is not None:
            self.ema.ema_update(self.ema.alpha(self.iter))


def memory_probe(args) -> None:
    """Child process: build one mode, run two iterations, print the peak memory.

    The first iteration creates the optimizer state (and, on CUDA, runs cuDNN's algorithm search,
    whose trial workspaces must not count): on CUDA the peak is reset after it, so the number is
    the steady-state peak of an iteration (weights, optimizer state, gradients, activations). The
    CPU peak RSS cannot be reset and covers both iterations.
    """
    device = torch.device(args.device)
    baseline = C.current_rss_mib()
    step = TrainIteration(args.memory_probe, args, device, C.dacs_method())
    step()
    if device.type == 'cuda':
        C.sync(device)
        torch.cuda.reset_peak_memory_stats(device)
    step()
    C.report_memory_probe(device, baseline)


def describe(method) -> dict:
    m = method.model
    labeler, loss = m.pseudo_labeler['type'], '+'.join(x['type'] for x in m.target_losses)
    return dict(
        supervised='EncoderDecoder.train_step: student fwd/bwd on a labelled batch, SGD step',
        sfda=f'teacher fwd, {labeler}, student fwd/bwd ({loss}), SGD step, EMA',
        uda=f'source fwd/bwd, teacher fwd, {labeler}, {m.mixer["type"]}, '
            f'{m.strong_augment["type"]}, mixed fwd/bwd ({loss}), SGD step, EMA')


def target_lines(args, ratios, mem_ratios) -> list:
    lines = ['targets (GPU; 512x512, batch 2, bf16): sfda <= 1.5x, uda <= 2.5x supervised ms/it; '
             'peak memory <= 1.3x supervised']
    if args.device != 'cuda':
        return lines + [f'  not checked: the targets are for a GPU, this run is on {args.device}']
    if (args.crop, args.batch, args.amp) != tuple(TARGET_SETTINGS.values()):
        lines.append('  note: this run\'s settings differ from the targets\' (crop, batch, --amp): '
                     'the verdicts below are indicative only')
    for mode, limit in TIME_TARGETS.items():
        met = 'met' if ratios[mode] <= limit else 'NOT met'
        lines.append(f'  {mode} time: {ratios[mode]:.2f}x <= {limit}x: {met}')
    for mode, ratio in (mem_ratios or {}).items():
        met = 'met' if ratio <= MEMORY_TARGET else 'NOT met'
        lines.append(f'  {mode} peak memory: {ratio:.2f}x <= {MEMORY_TARGET}x: {met}')
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    device = torch.device(args.device)
    method = C.dacs_method()
    load_before = C.load_average()
    steps = {mode: TrainIteration(mode, args, device, method) for mode in MODES}
    times = C.time_interleaved(steps, args.iters, args.warmup, device)
    load_after = C.load_average()
    del steps
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    memory = None if args.no_memory else C.run_memory_probes(
        __file__, C.forwarded_argv(argv), MODES)

    ratios = {mode: C.paired_ratio(times[mode], times['supervised']) for mode in MODES}
    headers = ['mode', 'one iteration', 'ms/it (median)', 'ms/it IQR', 'ratio to supervised']
    # (key in the probe's report, column header) of each memory number, each with a ratio column.
    columns = []
    if memory is not None:
        columns = ([('peak_mib', 'peak GPU memory allocated (MiB)')] if device.type == 'cuda' else
                   [('peak_mib', 'peak RSS of its process (MiB)'),
                    ('above_import_mib', 'peak RSS above imports (MiB)')])
    for _, header in columns:
        headers += [header, 'ratio']
    what = describe(method)
    rows = []
    for mode in MODES:
        row = [mode, what[mode], f'{statistics.median(times[mode]):.1f}', C.iqr(times[mode]),
               f'{ratios[mode]:.2f}']
        for key, _ in columns:
            value, base = memory[mode][key], memory['supervised'][key]
            row += [f'{value:.0f}', f'{value / base:.2f}']
        rows.append(row)
    mem_ratios = None if memory is None else {
        m: memory[m]['peak_mib'] / memory['supervised']['peak_mib'] for m in MODES[1:]}

    precision = 'bf16 autocast (AmpOptimWrapper)' if args.amp else 'fp32'
    print('## Training step: self-training vs supervised (same model, same run)')
    print(f'device: {C.device_description(device)}')
    print(f'settings: {C.settings_line(args, precision)}')
    print(f'method: {C.DACS_CONFIG} (pseudo_labeler, mixer, strong_augment, target_losses, '
          f'teacher_mode, MeanTeacherHook momentum); SGD lr={LR}, momentum and weight decay as '
          'configured')
    print(f'load average: before {load_before}, after {load_after}')
    print('ms/it: wall time of train_step (+ EMA), modes taking turns each round; ratio: median '
          'over rounds of mode / supervised in the same round')
    if memory is not None:
        if device.type == 'cuda':
            print('memory: torch.cuda.max_memory_allocated of a fresh process per mode during its '
                  'second iteration (weights, optimizer state, gradients, activations)')
        else:
            print('memory: peak resident set size (VmHWM) of a fresh process per mode after 2 '
                  'iterations; "above imports" subtracts the RSS after importing torch, mmseg, '
                  'mmsfda')
    print()
    print(C.markdown_table(headers, rows))
    print()
    print('\n'.join(target_lines(args, ratios, mem_ratios)))


if __name__ == '__main__':
    main()
