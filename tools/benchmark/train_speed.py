"""Training-step speed and peak memory of every adaptation method vs the plain supervised step.

One mode per method, the same model (``--model``) in the same run, on synthetic batches; each
method's segmentor comes from its toy config (``METHODS``) with the student replaced by ``--model``:

* ``supervised``: mmseg's ``EncoderDecoder.train_step`` on a labelled batch (fwd/bwd, SGD step);
* ``tent`` / ``shot-im``: entropy / information maximisation on a target batch (no labelling pass);
* ``cbst`` / ``calsfda``: offline rounds: a target batch carrying pseudo-labels (as the round's
  files give them), the method's losses (Cal-SFDA: symmetric CE + negative learning + robust
  entropy, with the value net in the student);
* ``atp-align`` / ``atp-teach`` / ``atp-propagate``: ATP's steps (curriculum entropy with the
  classifier frozen; offline positive + negative labels; EMA teacher on easy and hard images,
  easy CE, easy -> hard ClassMix, prototype contrast; ``--model r18-tiny`` only);
* ``uplr-aa``: UPLR's adversarial step (FDA on the source, source fwd/bwd, target fwd, the
  rectified adversarial term through the discriminator, SGD step; then the discriminator's step
  on the detached maps, Adam step: the config's two optimisers);
* ``dacs``: the UDA step (source fwd/bwd backpropagated first, teacher fwd, pseudo-labels,
  ClassMix, StrongAugment, mixed fwd/bwd, SGD step) + the EMA of ``MeanTeacherHook``;
* ``daformer``: the DACS step plus the thing-class ImageNet feature distance on the source (a
  frozen copy of the backbone forwards the source batch); ``mic``: DAFormer plus the masked target
  image's forward/backward. Measure them with DAFormer's own network: ``--model mit-tiny`` (toy
  width) or ``--model mitb5``.
* ``hrda`` / ``mic-hrda``: the DAFormer / MIC step with the ``--model`` network run at two
  resolutions (HRDAEncoderDecoder: context = the crop at scale 0.5, detail = a half-size crop at
  full resolution, teacher by overlapping sliding detail windows; the ImageNet copy on the
  context image).
* ``diga-warmup`` / ``diga-selftrain``: DiGA's steps (cross-domain mixture with the FDA view,
  student fwd/bwd and teacher fwd on [source; mixed], symmetric KD; self-training adds the teacher
  fwd on the target, prototype-consensus selection, the blended target view with ClassMix and its
  fwd/bwd, prototype EMA). They need the ProDA head: ``--model r18-tiny-proda``;
* ``t2sda``: the DAFormer step plus T2S-DA's (FDA pseudo-target view carrying the source loss,
  teacher fwd on the clean source for keys and prototypes, projection heads, contrastive loss on
  source and reliable target queries); its cost over ``daformer`` is the method's.
  ``t2sda-keys-every-2``: the same with the teacher's clean-source forward on every second step
  only (``key_interval=2``; the other steps take the memory's prototypes and queued keys);
  ``t2sda-clean-source-loss``: the supervised loss on the clean source, the queries from one more
  student forward of the FDA view (``source_loss_view='clean'``).

Every mode runs ``train_step`` as mmengine's runner does (plus the EMA where the config has
``MeanTeacherHook``). ``--amp``: bf16 autocast (CUDA: mmengine's ``AmpOptimWrapper``; CPU:
``torch.autocast('cpu', bfloat16)`` around the step, which needs no loss scaling).
``--channels-last``: model and inputs in ``torch.channels_last``. Time: median ms per iteration
over rounds in which the modes take turns; ratios are medians of per-round ratios to
``supervised``. Peak memory: one fresh process per mode (CUDA: ``torch.cuda.max_memory_allocated``;
CPU: peak RSS, ``VmHWM``).

    python tools/benchmark/train_speed.py --model r18-tiny --crop 128 256 --batch 4 --iters 20
    python tools/benchmark/train_speed.py --model r18-tiny --amp --channels-last
    python tools/benchmark/train_speed.py --model r101 --device cuda --amp  # 512x512, batch 2
    python tools/benchmark/train_speed.py --model mit-tiny --modes dacs daformer mic
"""
import argparse
import os.path as osp
import statistics
import sys
from contextlib import nullcontext

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import HOOKS

import _common as C
from mmsfda.models.heads.class_prototypes import ClassPrototypes  # noqa: E402

#: mode -> (toy config whose `model` / hooks give the method, batch kind[, model overrides])
METHODS = {
    'tent': ('configs/tent/tent_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
             'target'),
    'shot-im': ('configs/shot/shot-im_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py',
                'target'),
    'cbst': ('configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py',
             'offline'),
    'calsfda': ('configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
                'toy-source-to-target-128x256.py', 'offline'),
    'dacs': (C.DACS_CONFIG, 'uda'),
    # The same step with one backward at the end (the source graph held through the target steps):
    # the baseline of the early source backward's memory saving.
    'dacs-one-backward': (C.DACS_CONFIG, 'uda', dict(backward_source_first=False)),
    'daformer': ('configs/daformer/daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
                 'uda'),
    'mic': ('configs/mic/mic-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'uda'),
    # HRDA / MIC(HRDA): the --model network at two resolutions (context: the crop at scale 0.5;
    # detail: half the crop at full resolution; teacher by overlapping sliding windows).
    'hrda': ('configs/hrda/hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'uda'),
    'mic-hrda': ('configs/mic/mic-hrda_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'uda'),
    # UPLR's adversarial stage: AdvEnt + FDA + the TGAA rectifier, segmenter and discriminator
    # steps with the config's two optimisers (compare with 'supervised').
    'uplr-aa': ('configs/uplr/uplr-s1-aa_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-'
                '128x256.py', 'uda'),
    # T2S-DA: the DAFormer step plus the pseudo-target view, the teacher's clean-source keys and
    # the contrastive loss (compare with 'daformer' in the same run).
    't2sda': ('configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py',
              'uda'),
    't2sda-keys-every-2': (
        'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'uda',
        dict(key_interval=2, memory=dict(prototype_momentum=0.99, queue_size=64, queue_push=64))),
    't2sda-clean-source-loss': (
        'configs/t2sda/t2sda-daformer_mit-tiny_1xb4-300_toy-source-to-target-128x256.py', 'uda',
        dict(source_loss_view='clean')),
    # ATP's three steps (the propagate head reads the r18-tiny's 128 channels: --model r18-tiny);
    # the prototype contrast on from the first step.
    'atp-align': ('configs/atp/atp-align_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-'
                  '128x256.py', 'target'),
    'atp-teach': ('configs/atp/atp-teach_deeplabv2_r18-tiny_1xb4-2x150_toy-source-to-target-'
                  '128x256.py', 'offline'),
    'atp-propagate': ('configs/atp/atp-propagate_deeplabv2_r18-tiny_1xb4-300_toy-source-to-'
                      'target-128x256.py', 'easy-hard', dict(contrast_begin=0)),
    # DiGA (student with the ProDA head: --model r18-tiny-proda); self-training batches carry the
    # round's offline labels on the target branch.
    'diga-warmup': ('configs/diga/diga-warmup_deeplabv2-proda_r18-tiny_1xb4-300_toy-source-to-'
                    'target-128x256.py', 'uda'),
    'diga-selftrain': ('configs/diga/diga-selftrain_deeplabv2-proda_r18-tiny_1xb4-2x50_toy-'
                       'source-to-target-128x256.py', 'uda-offline'),
}
MODES = ('supervised', *METHODS)
# The GPU targets (512x512, batch 2, bf16 autocast): UDA time and peak memory ratios.
TARGET_SETTINGS = dict(crop=(512, 512), batch=2, amp=True)
TIME_TARGETS = dict(dacs=2.5, daformer=2.1)
MEMORY_MODES = ('dacs', 'dacs-one-backward', 'daformer')
MEMORY_TARGET = 1.3
# Synthetic random labels: a small lr keeps the weights finite for any number of iterations (the
# lr does not change the cost of a step).
LR = 1e-4


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    C.add_common_args(parser)
    parser.add_argument('--channels-last', action='store_true',
                        help='model weights and inputs in torch.channels_last memory format')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES),
                        help='modes to measure (supervised is always included)')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak memory measurement (one process per mode)')
    parser.add_argument('--memory-probe', choices=MODES, help=argparse.SUPPRESS)
    args = C.finalize_args(parser, parser.parse_args(argv))
    args.modes = ['supervised'] + [m for m in args.modes if m != 'supervised']
    return args


def method_config(mode: str) -> Config:
    return Config.fromfile(osp.join(C.REPO, METHODS[mode][0]))


def mean_teacher_hooks(method: Config) -> list:
    """The config's ``MeanTeacherHook`` entries (named ``default_hooks`` or ``custom_hooks``)."""
    hooks = list(method.get('custom_hooks', [])) + list(method.get('default_hooks', {}).values())
    return [h for h in hooks if h and h.get('type') == 'MeanTeacherHook']


def method_model_cfg(mode: str, student: dict, method: Config) -> dict:
    """The method's segmentor config with ``student`` as its student.

    A student of another type in the method's config (Cal-SFDA's ``ECEEstimatingEncoderDecoder``)
    keeps its type and extra heads, fitted to the new backbone's output channels.
    """
    cfg = dict(method.model)
    own = cfg['student']
    if own.get('type') != student.get('type'):
        extra = {k: v for k, v in own.items() if k not in student}
        if 'value_head' in extra:
            extra['value_head'] = dict(extra['value_head'],
                                       in_channels=student['decode_head']['in_channels'],
                                       num_classes=student['decode_head']['num_classes'])
        if 'head' in own.get('decode_head', {}):  # a wrapping head (HRDA's): wrap the new one
            head = student['decode_head']
            extra['decode_head'] = dict(own['decode_head'], head=head,
                                        attention_embed_dims=head.get('embed_dims', 256))
        if 'detail_crop_size' in own:  # HRDA: the detail crop is half the crop (512 of 1024)
            extra['detail_crop_size'] = tuple(s // 2 for s in student['data_preprocessor']['size'])
        student = dict(student, type=own['type'], **extra)
    labeler = cfg.get('pseudo_labeler')
    if labeler is not None and 'num_classes' in labeler:
        cfg['pseudo_labeler'] = dict(labeler, num_classes=student['decode_head']['num_classes'])
    cfg['student'] = student
    cfg.update(METHODS[mode][2] if len(METHODS[mode]) > 2 else {})
    return cfg


class TrainIteration:
    """One training iteration of a mode as mmengine's runner runs it: ``train_step``, then the EMA.

    The EMA is ``MeanTeacherHook.ema_update`` (the hook of the method's config), called with the
    hook's own ``alpha(t)`` as ``after_train_iter`` does; no runner is involved.
    """

    def __init__(self, mode: str, args, device: torch.device):
        student = C.student_cfg(args.model, args.num_classes, args.crop)
        method = C.dacs_method() if mode == 'supervised' else method_config(mode)
        cfg = student if mode == 'supervised' else method_model_cfg(mode, student, method)
        self.model = C.build_model(cfg, device).train()
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.model.data_preprocessor.register_forward_hook(_channels_last_batch)
        # One optimiser for every mode (the DACS config's SGD), so the steps differ by method only.
        optim = dict(C.dacs_method().optim_wrapper)
        optim['optimizer'] = dict(optim['optimizer'], lr=LR)
        self.autocast = nullcontext()
        if args.amp and device.type == 'cuda':
            optim.update(type='AmpOptimWrapper', dtype='bfloat16')
        elif args.amp:
            self.autocast = torch.autocast('cpu', dtype=torch.bfloat16)
        multi = mode != 'supervised' and method.optim_wrapper.get('constructor')
        if multi == 'MultiOptimWrapperConstructor':  # adversarial: the method's own optimisers
            optim = method.optim_wrapper.to_dict()
            optim['student'] = dict(optim['student'],
                                    optimizer=dict(optim['student']['optimizer'], lr=LR))
        self.optim_wrapper = build_optim_wrapper(self.model, optim)
        self.ema = None
        hooks = mean_teacher_hooks(method)
        if mode != 'supervised' and hooks:
            self.ema = HOOKS.build(hooks[0])
            self.ema._collect(self.model)
        gen = torch.Generator().manual_seed(args.seed)

        def batch(labelled):
            return C.make_batch(args.batch, args.crop, args.num_classes, labelled, gen)

        kind = 'supervised' if mode == 'supervised' else METHODS[mode][1]
        if kind in ('supervised', 'offline'):
            self.data = batch(True)  # offline: the labels stand for the round's pseudo-labels
        elif kind == 'target':
            self.data = batch(False)  # a plain target-only mmseg batch, no labels
        elif kind == 'easy-hard':  # EasyHardPairDataset's layout, both unlabelled
            self.data = dict(easy=batch(False), target=batch(False))
        elif kind == 'uda-offline':  # source labels, and the round's labels on the target
            self.data = dict(source=batch(True), target=batch(True))
        else:  # DomainPairDataset's layout; the target branch is unlabelled
            self.data = dict(source=batch(True), target=batch(False))
        aux = getattr(self.model, 'aux', {})
        protos = aux['prototypes'] if 'prototypes' in aux else None
        # DiGA self-training: its ClassPrototypes are initialised first. ATP's Propagate keeps a
        # PrototypeEstimator under the same name, which starts empty and has no such step.
        if isinstance(protos, ClassPrototypes):
            with torch.no_grad():
                protos.start_init()
                self.model.prototype_init_step(self.model.data_preprocessor(batch(False))['inputs'])
                protos.finish_init()
        self.iter = 0

    def __call__(self):
        with self.autocast:
            self.model.train_step(self.data, self.optim_wrapper)
        self.iter += 1
        if self.ema is not None:
            self.ema.ema_update(self.ema.alpha(self.iter))


def _channels_last_batch(module, args, out):
    """Forward hook of the data preprocessor: its stacked images [B, 3, H, W] in channels_last."""
    def convert(x):
        if isinstance(x, dict):
            return {k: convert(v) for k, v in x.items()}
        return x.contiguous(memory_format=torch.channels_last)
    return dict(out, inputs=convert(out['inputs']))


def memory_probe(args) -> None:
    """Child process: build one mode, run two iterations, print the peak memory.

    The first iteration creates the optimizer state (and, on CUDA, runs cuDNN's algorithm search,
    whose trial workspaces must not count): on CUDA the peak is reset after it, so the number is
    the steady-state peak of an iteration (weights, optimizer state, gradients, activations). The
    CPU peak RSS cannot be reset and covers both iterations.
    """
    device = torch.device(args.device)
    baseline = C.current_rss_mib()
    step = TrainIteration(args.memory_probe, args, device)
    step()
    if device.type == 'cuda':
        C.sync(device)
        torch.cuda.reset_peak_memory_stats(device)
    step()
    C.report_memory_probe(device, baseline)


def describe(mode: str) -> str:
    if mode == 'supervised':
        return 'EncoderDecoder.train_step: student fwd/bwd on a labelled batch, SGD step'
    m = method_config(mode).model
    if len(METHODS[mode]) > 2:
        m.update(METHODS[mode][2])
    if m.get('type') == 'DiGASegmentor':
        step = ('cross-domain mixture (FDA view), student fwd/bwd + teacher fwd on '
                '[source; mixed], CE + symmetric KD')
        if m.get('stage') == 'selftrain':
            step += (', teacher fwd on target, prototype-consensus selection, blended target + '
                     'ClassMix fwd/bwd, prototype EMA')
        return step + ', SGD step, EMA'
    parts = []
    if m.get('setting') == 'uda':
        parts.append('source fwd/bwd' if m.get('backward_source_first', True) else 'source fwd')
    if m.get('pseudo_labeler') and m.get('pseudo_labels_from', 'teacher') == 'teacher':
        parts.append(f"{'teacher' if m.get('teacher') else 'student'} fwd, "
                     f"{m.pseudo_labeler['type']}")
    elif m.get('pseudo_labels_from') == 'dataset':
        parts.append('offline labels')
    for key in ('mixer', 'strong_augment'):
        if m.get(key):
            parts.append(m[key]['type'])
    if m.get('feature_distance'):
        parts.append('ImageNet feature distance (frozen backbone copy fwd on source)')
    losses = '+'.join(x['type'] for x in m.get('target_losses', [])) or 'adversarial'
    one = m.get('setting') == 'uda' and not m.get('backward_source_first', True)
    parts.append(f"{'mixed' if m.get('mixer') else 'student'} fwd/bwd ({losses})"
                 f"{', one backward of both' if one else ''}, SGD step")
    if m.get('t2s_loss'):
        every = m.get('key_interval', 1)
        clean = m.get('source_loss_view') == 'clean'
        parts.append(f"T2S-DA: FDA view{' (its own student fwd/bwd)' if clean else ''}, "
                     f"teacher fwd on clean source"
                     f"{f' once every {every} steps' if every > 1 else ''}, projection heads, "
                     'T2SContrastiveLoss')
    if m.get('masking'):
        parts.append(f"masked target fwd/bwd ({m.masking['type']})")
    if mean_teacher_hooks(method_config(mode)):
        parts.append('EMA')
    return ', '.join(parts)


def target_lines(args, ratios, mem_ratios) -> list:
    lines = ['targets (GPU; 512x512, batch 2, bf16): ms/it ' + ', '.join(
        f'{m} <= {v}x' for m, v in TIME_TARGETS.items()) + ' supervised; peak memory <= '
        f'{MEMORY_TARGET}x supervised']
    if args.device != 'cuda':
        lines.append(f'  time: not checked (a GPU target; this run is on {args.device})')
        for mode, ratio in (mem_ratios or {}).items():
            met = 'met' if ratio <= MEMORY_TARGET else 'NOT met'
            lines.append(f'  {mode} peak memory above imports (CPU RSS): {ratio:.2f}x <= '
                         f'{MEMORY_TARGET}x: {met}')
        return lines
    if (args.crop, args.batch, args.amp) != tuple(TARGET_SETTINGS.values()):
        lines.append('  note: this run\'s settings differ from the targets\' (crop, batch, --amp): '
                     'the verdicts below are indicative only')
    for mode, limit in TIME_TARGETS.items():
        if mode not in ratios:
            continue
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
    modes = args.modes
    load_before = C.load_average()
    steps = {mode: TrainIteration(mode, args, device) for mode in modes}
    times = C.time_interleaved(steps, args.iters, args.warmup, device)
    load_after = C.load_average()
    del steps
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    memory = None if args.no_memory else C.run_memory_probes(
        __file__, C.forwarded_argv(argv), modes)

    ratios = {mode: C.paired_ratio(times[mode], times['supervised']) for mode in modes}
    headers = ['mode', 'one iteration', 'ms/it (median)', 'ms/it IQR', 'ratio to supervised']
    # (key in the probe's report, column header) of each memory number, each with a ratio column.
    columns = []
    if memory is not None:
        columns = ([('peak_mib', 'peak GPU memory allocated (MiB)')] if device.type == 'cuda' else
                   [('peak_mib', 'peak RSS of its process (MiB)'),
                    ('above_import_mib', 'peak RSS above imports (MiB)')])
    for _, header in columns:
        headers += [header, 'ratio']
    rows = []
    for mode in modes:
        row = [mode, describe(mode), f'{statistics.median(times[mode]):.1f}', C.iqr(times[mode]),
               f'{ratios[mode]:.2f}']
        for key, _ in columns:
            value, base = memory[mode][key], memory['supervised'][key]
            row += [f'{value:.0f}', f'{value / base:.2f}']
        rows.append(row)
    key = 'peak_mib' if device.type == 'cuda' else 'above_import_mib'
    mem_ratios = None if memory is None else {
        m: memory[m][key] / memory['supervised'][key] for m in modes[1:] if m in MEMORY_MODES}

    precision = 'bf16 autocast' if args.amp else 'fp32'
    if args.channels_last:
        precision += ', channels_last'
    print('## Training step: every method vs supervised (same model, same run)')
    print(f'device: {C.device_description(device)}')
    print(f'settings: {C.settings_line(args, precision)}')
    print('methods: the toy configs of ' + ', '.join(f'{m} ({METHODS[m][0]})' for m in modes[1:])
          + f', student = --model; SGD lr={LR} for every mode')
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
                  'mmsfda (the memory target is checked on it)')
    print()
    print(C.markdown_table(headers, rows))
    print()
    print('\n'.join(target_lines(args, ratios, mem_ratios)))


if __name__ == '__main__':
    main()
