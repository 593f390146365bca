"""Run the three stages of Cal-SFDA, each through mmseg's own tools/train.py.

    python tools/run_calsfda.py --benchmark toy --work-dir work_dirs/calsfda/toy_seed0 --seed 0

1. ``<work-dir>/stage1``: source training with the ECE loss; ``CheckpointSelectionHook`` records
   every validated checkpoint and the rule ``--source-rule`` picks the one stage 2 starts from.
2. ``<work-dir>/stage2``: the value net, from that checkpoint (``load_from``); its last checkpoint
   starts stage 3.
3. ``<work-dir>/stage3``: BN warm-up, ECE-guided self-training rounds and label-free selection.

Every stage resumes if interrupted (rerun the same command) and is skipped once finished. The
summary (source picks, label-free vs oracle target checkpoint, Spearman correlations) is printed
and written to ``<work-dir>/summary.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmsfda.apis import train_config  # noqa: E402

CONFIGS = {
    'toy': ('configs/calsfda/calsfda-s1-source_deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py',
            'configs/calsfda/calsfda-s2-value_deeplabv2_r18-tiny_1xb4-300_toy-source-128x256.py',
            'configs/calsfda/calsfda-s3-adapt_deeplabv2_r18-tiny_1xb4-2x200_'
            'toy-source-to-target-128x256.py'),
    'gta5': ('configs/calsfda/calsfda-s1-source_deeplabv2_r101_1xb4-40k_gta5-512x512.py',
             'configs/calsfda/calsfda-s2-value_deeplabv2_r101_1xb4-20k_gta5-512x512.py',
             'configs/calsfda/calsfda-s3-adapt_deeplabv2_r101_1xb4-2x5k_'
             'gta5-to-cityscapes-512x512.py'),
    'synthia': ('configs/calsfda/calsfda-s1-source_deeplabv2_r101_1xb4-40k_synthia16-512x512.py',
                'configs/calsfda/calsfda-s2-value_deeplabv2_r101_1xb4-20k_synthia16-512x512.py',
                'configs/calsfda/calsfda-s3-adapt_deeplabv2_r101_1xb4-2x5k_'
                'synthia16-to-cityscapes-512x512.py'),
}
SELECTION_FILE = 'checkpoint_selection.json'


def read_selection(work_dir: str) -> dict:
    """The ``checkpoint_selection.json`` a stage's ``CheckpointSelectionHook`` wrote."""
    path = osp.join(work_dir, SELECTION_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} is missing: the stage config must contain '
                                'CheckpointSelectionHook (and the stage must have validated)')
    with open(path) as f:
        return json.load(f)


def picked_checkpoint(work_dir: str, rule: str) -> str:
    """Path of the checkpoint that ``rule`` picked in ``work_dir``; errors name what is missing."""
    selection = read_selection(work_dir)
    picks = selection.get('picks', {})
    if rule not in picks:
        raise ValueError(f'rule {rule!r} is not in {osp.join(work_dir, SELECTION_FILE)}; its rules: '
                         f'{sorted(picks)}')
    pick = picks[rule]
    path = pick.get('checkpoint') if pick else None
    if not path or not osp.isfile(path):
        raise FileNotFoundError(f'stage checkpoint picked by {rule!r} in {work_dir} is missing '
                                f'({path}): rerun that stage or pick another rule')
    return path


def run(benchmark: str, work_dir: str, seed: int, source_rule: str, extra=(),
        stage_options=((), (), ())) -> dict:
    """Train the three stages; returns the summary.

    ``extra`` are ``key=value`` config overrides for every stage, ``stage_options[i]`` for stage
    ``i + 1`` only.
    """
    s1, s2, s3 = CONFIGS[benchmark]
    common = [f'randomness.seed={seed}', *extra]
    stage1 = osp.join(work_dir, 'stage1')
    train_config(s1, stage1, [*common, *stage_options[0]],
                 desc='Cal-SFDA stage 1 (source + ECE loss)')
    source_ckpt = picked_checkpoint(stage1, source_rule)
    stage2 = osp.join(work_dir, 'stage2')
    value_ckpt = train_config(s2, stage2,
                              [*common, *stage_options[1], f'load_from={source_ckpt}'],
                              desc='Cal-SFDA stage 2 (value net)')
    stage3 = osp.join(work_dir, 'stage3')
    train_config(s3, stage3, [*common, *stage_options[2], f'load_from={value_ckpt}'],
                 desc='Cal-SFDA stage 3 (adaptation)')
    target = read_selection(stage3)
    summary = dict(
        benchmark=benchmark, seed=seed, source_rule=source_rule,
        source_picks={k: v and dict(iter=v['iter'], metrics=v['metrics'])
                      for k, v in read_selection(stage1)['picks'].items()},
        source_checkpoint=source_ckpt, value_checkpoint=value_ckpt,
        target_picks=target.get('picks'), target_comparison=target.get('comparison'),
        target_correlations=target.get('correlations'))
    tmp = osp.join(work_dir, 'summary.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, osp.join(work_dir, 'summary.json'))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--benchmark', choices=sorted(CONFIGS), default='toy')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--source-rule', default='min_ece_within_miou',
                        help='stage-1 selection rule whose checkpoint starts stage 2')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value overrides for all three stages')
    for i in (1, 2, 3):
        parser.add_argument(f'--stage{i}-options', nargs='*', default=[],
                            help=f'key=value overrides for stage {i} only')
    args = parser.parse_args(argv)
    summary = run(args.benchmark, args.work_dir, args.seed, args.source_rule, args.cfg_options,
                  (args.stage1_options, args.stage2_options, args.stage3_options))

    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
