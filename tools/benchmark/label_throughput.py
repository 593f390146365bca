"""Pseudo-label generation throughput vs plain mmseg inference of the same model, same batches.

Every mode starts from the same unlabelled synthetic batch (as a dataloader yields it) and runs the
data preprocessor, under ``torch.no_grad``, the model in eval mode:

* ``predict`` (the baseline): ``EncoderDecoder.test_step``, i.e. mmseg inference (forward, resize to
  the original shape, argmax, ``SegDataSample`` outputs);
* ``encode_decode``: the forward alone (logits at input size), for reference;
* ``threshold`` / ``class_balanced``: ``SelfTrainingSegmentor.teacher_probs`` (forward of the label
  network, here the student as no teacher is configured, resize, softmax) + ``ThresholdLabeler`` /
  ``ClassBalancedLabeler(mode='online')``, i.e. what online self-training and offline labelling
  rounds run per batch. The class-balanced thresholds are exact per-batch quantiles (one int64 sort
  of class-and-confidence keys).

Images/s from the median ms per batch over rounds in which the modes take turns; the ratio is the
median over rounds of (predict time / mode time), the target being >= 0.9.

    python tools/benchmark/label_throughput.py --model r18-tiny --crop 128 256 --batch 4 --iters 30 \
        --warmup 3 --num-classes 19
    python tools/benchmark/label_throughput.py --model r101 --device cuda --amp
"""
import argparse
import statistics
import sys

import torch

import _common as C

MODES = ('predict', 'encode_decode', 'threshold', 'class_balanced')
BASELINE = 'predict'
TARGET = 0.9  # pseudo-labelling throughput >= 0.9x inference (GPU)


def labeler_cfgs(num_classes: int) -> dict:
    return dict(
        threshold=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='pixel'),
        class_balanced=dict(type='ClassBalancedLabeler', num_classes=num_classes, proportion=0.2,
                            mode='online'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    C.add_common_args(parser)
    return C.finalize_args(parser, parser.parse_args(argv))


def build_steps(args, device: torch.device) -> dict:
    """One callable per mode, each processing the same batch once."""
    student = C.student_cfg(args.model, args.num_classes, args.crop)
    segmentor = C.build_model(dict(type='SelfTrainingSegmentor', setting='sfda', student=student,
                                   teacher_mode='eval'), device).eval()
    # No teacher configured: the student labels (a plain mmseg EncoderDecoder).
    teacher = segmentor.student
    labelers = {name: C.MODELS.build(cfg).to(device).train()  # online thresholds update in training
                for name, cfg in labeler_cfgs(args.num_classes).items()}
    batch = C.make_batch(args.batch, args.crop, args.num_classes, labelled=False,
                         generator=torch.Generator().manual_seed(args.seed))

    def run(fn):
        def step():
            with torch.no_grad(), C.autocast(device, args.amp):
                return fn()
        return step

    def preprocess():
        """Inputs [B, 3, H, W], metainfo list and data samples of the batch."""
        data = segmentor.data_preprocessor(batch, False)
        return data['inputs'], [s.metainfo for s in data['data_samples']], data['data_samples']

    def label(labeler):
        inputs, metas, samples = preprocess()
        return labeler(segmentor.teacher_probs(inputs, metas), data_samples=samples)

    def encode_decode():
        inputs, metas, _ = preprocess()
        return teacher.encode_decode(inputs, metas)

    return dict(
        predict=run(lambda: teacher.test_step(batch)),
        encode_decode=run(encode_decode),
        threshold=run(lambda: label(labelers['threshold'])),
        class_balanced=run(lambda: label(labelers['class_balanced'])))


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    load_before = C.load_average()
    steps = build_steps(args, device)
    times = C.time_interleaved(steps, args.iters, args.warmup, device)
    load_after = C.load_average()

    base = times[BASELINE]
    ratios = {m: 1.0 / C.paired_ratio(times[m], base) for m in MODES}
    what = dict(
        predict='EncoderDecoder.test_step: preprocess, forward, resize, argmax (mmseg inference)',
        encode_decode='preprocess, EncoderDecoder.encode_decode (logits)',
        threshold='preprocess, teacher_probs (forward, resize, softmax), ThresholdLabeler',
        class_balanced='preprocess, teacher_probs, ClassBalancedLabeler (online, per batch)')
    rows = []
    for mode in MODES:
        ms = statistics.median(times[mode])
        rate = args.batch / ms * 1e3
        rows.append([mode, what[mode], f'{rate:.1f}' if rate >= 10 else f'{rate:.3f}', f'{ms:.1f}',
                     C.iqr(times[mode]), f'{ratios[mode]:.2f}'])
    precision = 'bf16 autocast' if args.amp else 'fp32'
    print('## Pseudo-label throughput vs mmseg inference (same model, same batches, same run)')
    print(f'device: {C.device_description(device)}')
    print(f'settings: {C.settings_line(args, precision)}, model in eval mode, torch.no_grad')
    print(f'labelers: {labeler_cfgs(args.num_classes)}')
    print(f'load average: before {load_before}, after {load_after}')
    print('images/s = batch / median ms per batch; ratio: median over rounds of '
          f'{BASELINE} time / mode time (throughput relative to {BASELINE})')
    print()
    print(C.markdown_table(['mode', 'one batch', 'images/s (median)', 'ms/batch (median)',
                            'ms/batch IQR', f'throughput ratio to {BASELINE}'], rows))
    print()
    print(f'target (GPU): pseudo-labelling throughput >= {TARGET}x {BASELINE}')
    if args.device != 'cuda':
        print(f'  not checked: the target is for a GPU, this run is on {args.device}')
        return
    for mode in ('threshold', 'class_balanced'):
        met = 'met' if ratios[mode] >= TARGET else 'NOT met'
        print(f'  {mode}: {ratios[mode]:.2f}x >= {TARGET}x: {met}')


if __name__ == '__main__':
    main(sys.argv[1:])
