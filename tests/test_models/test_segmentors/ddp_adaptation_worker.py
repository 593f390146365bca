"""One rank of a 2-process CPU DDP run of an adaptation model (launched by torchrun in a test).

    python -m torch.distributed.run --nproc_per_node 2 ddp_adaptation_worker.py MODE OUT_DIR

MODE 'dacs': one optimiser, early source backward inside the DDP forward.
MODE 'adversarial': two optimisers (OptimWrapperDict), two DDP forwards per step.
Each rank trains on its own batches and saves its weights to OUT_DIR/rank<r>.pt.
"""
import os
import os.path as osp
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(mode, out_dir):
    import mmsfda  # noqa: F401
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODEL_WRAPPERS, MODELS

    import adaptation_models as am
    init_default_scope('mmseg')
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    torch.manual_seed(0)  # the same initial weights on both ranks
    cfg = am.adversarial_cfg(REPO) if mode == 'adversarial' else am.dacs_cfg(REPO)
    model = MODELS.build(cfg)
    model.init_weights()
    ddp = MODEL_WRAPPERS.build(dict(type='AdaptationDistributedDataParallel',
                                    find_unused_parameters=mode == 'adversarial'),
                               default_args=dict(module=model))
    optim_cfg = (am.multi_optim_cfg() if mode == 'adversarial' else
                 dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)))
    optim_wrapper = build_optim_wrapper(ddp, optim_cfg)
    torch.manual_seed(100 + rank)  # ClassMix draws differ per rank, as in a real run
    for step in range(2):
        log_vars = ddp.train_step(am.uda_batch(seed=10 * step + rank), optim_wrapper)
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log_vars.values()), log_vars
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()},
               osp.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    main(sys.argv[1], sys.argv[2])
