"""Worker of ``test_distributed.test_every_toy_config_under_ddp`` (run by torchrun, 2 processes).

Each process trains every job of ``--jobs`` (a JSON list of ``{name, config, load_from, options}``)
in turn with mmengine's Runner (``launcher='pytorch'``, gloo; the process group is made by the
first runner and reused), on tiny data, and records per job: whether it ran, the error otherwise,
a hash of every parameter after training and how many parameters training changed. Rank 0 writes
every rank's records to ``--out``.
"""
import argparse
import hashlib
import json
import os.path as osp
import sys
import time
import traceback

HERE = osp.dirname(osp.abspath(__file__))
sys.path[:0] = [HERE, osp.dirname(HERE)]  # the test helpers and conftest


def param_hashes(model):
    from mmengine.model import is_model_wrapper
    model = model.module if is_model_wrapper(model) else model
    return {k: hashlib.sha1(v.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
            for k, v in model.named_parameters()}


def run_job(job, data, work_root):
    from mmengine.hooks import Hook

    from test_exact_resume import make_cfg, train

    cfg = make_cfg(job['config'], data, osp.join(work_root, job['name']),
                   [f"load_from={job['load_from']}", *job['options']], validate=True)
    cfg.experiment_name = f"ddp_{job['name']}"  # the same on both ranks
    cfg.launcher = 'pytorch'
    cfg.env_cfg.dist_cfg = dict(backend='gloo', timeout=300)
    cfg.train_cfg.val_interval = 1000  # validated once, at the end
    cfg.default_hooks.checkpoint.interval = 2
    rcs = cfg.train_dataloader.dataset.get('rare_class_sampling')
    if rcs:
        rcs['min_pixels'] = 10
    hooks = [*cfg.get('custom_hooks', []), *cfg.get('default_hooks', {}).values()]
    for hook in hooks:
        if isinstance(hook, dict) and hook.get('type') == 'TrainableScheduleHook':
            phases = hook['phases']  # Cal-SFDA's phase switch at iteration 1 (named or listed)
            (phases['decoder'] if isinstance(phases, dict) else phases[1])['begin'] = 1

    before = {}

    class Snapshot(Hook):
        def before_train(self, runner):
            before.update(param_hashes(runner.model))

    after = param_hashes(train(cfg, hooks=[Snapshot()]).model)
    return dict(ok=True, params=after, changed=sum(before[k] != v for k, v in after.items()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', required=True)
    parser.add_argument('--data', required=True)
    parser.add_argument('--work', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    import mmsfda  # noqa: F401
    from mmengine.dist import all_gather_object, get_rank
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    with open(args.jobs) as f:
        jobs = json.load(f)
    records = {}
    # Where each rank got to, for the test's message should a process die outright.
    progress = open(f'{args.out}.rank{get_rank()}.progress', 'a', buffering=1)
    for job in jobs:
        progress.write(f"started {job['name']}\n")
        start = time.perf_counter()
        try:
            records[job['name']] = run_job(job, args.data, args.work)
        except Exception:  # reported per job; the other rank fails alike or times out
            records[job['name']] = dict(ok=False, error=traceback.format_exc()[-4000:])
        progress.write(f"finished {job['name']} in {time.perf_counter() - start:.1f} s\n")
    gathered = all_gather_object(records)
    if get_rank() == 0:
        with open(args.out, 'w') as f:
            json.dump(gathered, f)
    progress.write('gathered, exiting\n')


if __name__ == '__main__':
    main()
