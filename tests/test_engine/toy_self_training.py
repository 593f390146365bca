"""Tiny toy data, a plain source checkpoint and command-line options for the CBST config tests."""
import os.path as osp
import subprocess
import sys

import torch

from conftest import REPO

CBST = 'configs/cbst/cbst_deeplabv2_r18-tiny_1xb4-2x200_toy-source-to-target-128x256.py'
DACS = 'configs/dacs/dacs_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'


#: Quarter-size toy images (the configs' 128x256 / 4): a quarter of the compute on 2 shared cores.
SIZE = (64, 128)


def make_toy_data(root: str, num_train: int = 4) -> str:
    """``tools/make_toy_data.py``: ``num_train`` train, 2 val images of :data:`SIZE` per domain."""
    data = osp.join(root, 'data')
    subprocess.run([sys.executable, 'tools/make_toy_data.py', '--out', data, '--num-train',
                    str(num_train), '--num-val', '2', '--height', str(SIZE[0]), '--width',
                    str(SIZE[1]), '--no-progress'], cwd=REPO, check=True, capture_output=True)
    return data


def size_options():
    """Pad to the small toy size, not the configs' 128x256. mmengine's Runner gives the top-level
    ``data_preprocessor`` to the model, so it is the one in use; the student's is set alike."""
    size = f'[{SIZE[0]},{SIZE[1]}]'
    return [f'data_preprocessor.size={size}', f'model.student.data_preprocessor.size={size}']


def make_source_checkpoint(path: str, config: str = CBST) -> str:
    """A plain (untrained, seeded) mmseg segmentor checkpoint of the config's student: what
    ``load_from`` gets from a source-only run, without spending minutes on one."""
    import mmsfda  # noqa: F401
    from mmengine import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model.student)
    model.init_weights()
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


def cbst_options(data: str, rounds=(2, 2), batch_size: int = 2, val_interval: int = 10 ** 6,
                 ckpt_interval: int = 1):
    """``--cfg-options`` of a tiny, single-worker CBST run on ``data``."""
    target = f'{data}/target'
    opts = [f'train_cfg.rounds=[{",".join(str(n) for n in rounds)}]',
            f'train_cfg.val_interval={val_interval}',
            f'default_hooks.checkpoint.interval={ckpt_interval}',
            'default_hooks.logger.interval=1', 'default_hooks.pseudo_label_stats.interval=1',
            f'train_cfg.label_dataloader.batch_size={batch_size}',
            'train_cfg.label_dataloader.num_workers=0',
            f'train_cfg.label_dataloader.dataset.data_root={target}', *size_options()]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.batch_size={batch_size}', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False', f'{loader}.dataset.data_root={target}']
    return opts


def uda_options(data: str, source_ckpt: str, iters: int = 2):
    """``--cfg-options`` of a tiny, single-worker UDA run (DomainPairDataset) on ``data``."""
    opts = [f'load_from={source_ckpt}', f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}', f'default_hooks.checkpoint.interval={iters}',
            'default_hooks.logger.interval=1',
            f'train_dataloader.dataset.source.data_root={data}/source',
            f'train_dataloader.dataset.target.data_root={data}/target',
            'train_dataloader.dataset.rare_class_sampling.min_pixels=10', *size_options()]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.batch_size=2', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts + [f'{loader}.dataset.data_root={data}/target'
                   for loader in ('val_dataloader', 'test_dataloader')]
