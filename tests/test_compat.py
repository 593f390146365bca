"""The stack shim of mmsfda.compat: resume and load_from under torch 2.13 + mmengine 0.10.7."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from mmsfda.utils import mmseg_tool_path as mmseg_tool

CONFIG = '''
_base_ = ['{repo}/configs/_base_/models/deeplabv2_r18-tiny.py',
          '{repo}/configs/_base_/schedules/sgd_poly_iter.py',
          '{repo}/configs/_base_/default_runtime.py']
randomness = dict(seed=0, deterministic=True)
crop_size = (32, 64)
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes={num_classes}))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
dataset = dict(type='BaseSegDataset', data_root='{data}', metainfo=dict(classes={classes}),
               img_suffix='.png', seg_map_suffix='.png',
               data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=pipeline)
train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=dataset)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dataset)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
max_iters = {iters}
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end={total}, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval=1000)
default_hooks = dict(checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False,
                                     interval={ckpt_interval}, max_keep_ckpts=-1),
                     logger=dict(interval=1), visualization=dict(draw=False))
'''




def write_config(path, data, iters, total, ckpt_interval, num_classes=4):
    classes = tuple(f'c{i}' for i in range(num_classes))
    with open(path, 'w') as f:
        f.write(CONFIG.format(repo=REPO, data=data, iters=iters, total=total,
                              ckpt_interval=ckpt_interval, num_classes=num_classes,
                              classes=classes))
    return path


def run_tool(args, expect_ok=True):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    if expect_ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def final_weights(work_dir, it):
    ckpt = torch.load(osp.join(work_dir, f'iter_{it}.pth'), map_location='cpu', weights_only=False)
    return ckpt['state_dict']


def test_resume_is_exact(tiny_seg_data, tmp_path):
    n = 6
    full = str(tmp_path / 'full')
    cfg_full = write_config(str(tmp_path / 'full.py'), tiny_seg_data, n, n, n)
    run_tool([mmseg_tool('train.py'), cfg_full, '--work-dir', full])

    # First half, then a fresh process that resumes from the half-way checkpoint.
    part = str(tmp_path / 'part')
    cfg_half = write_config(str(tmp_path / 'half.py'), tiny_seg_data, n // 2, n, n // 2)
    run_tool([mmseg_tool('train.py'), cfg_half, '--work-dir', part])
    cfg_rest = write_config(str(tmp_path / 'rest.py'), tiny_seg_data, n, n, n // 2)
    proc = run_tool([mmseg_tool('train.py'), cfg_rest, '--work-dir', part, '--resume'])
    assert f'resumed epoch: 0, iter: {n // 2}' in (proc.stdout + proc.stderr)

    a, b = final_weights(full, n), final_weights(part, n)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # The run did train: weights moved away from the half-way point.
    h = final_weights(part, n // 2)
    assert any(not torch.equal(h[k], b[k]) for k in b if b[k].is_floating_point())


def test_load_from_and_test_tool(tiny_seg_data, tmp_path):
    work = str(tmp_path / 'w')
    cfg = write_config(str(tmp_path / 'c.py'), tiny_seg_data, 2, 2, 2)
    run_tool([mmseg_tool('train.py'), cfg, '--work-dir', work])
    ckpt = osp.join(work, 'iter_2.pth')
    proc = run_tool([mmseg_tool('test.py'), cfg, ckpt, '--work-dir', work])
    assert 'mIoU' in proc.stdout + proc.stderr


def test_num_classes_mismatch_is_a_clear_error(tiny_seg_data, tmp_path):
    work = str(tmp_path / 'w')
    cfg = write_config(str(tmp_path / 'c.py'), tiny_seg_data, 2, 2, 2)
    run_tool([mmseg_tool('train.py'), cfg, '--work-dir', work])
    ckpt = osp.join(work, 'iter_2.pth')
    cfg5 = write_config(str(tmp_path / 'c5.py'), tiny_seg_data, 2, 2, 2, num_classes=5)
    proc = run_tool([mmseg_tool('test.py'), cfg5, ckpt], expect_ok=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'num_classes (5) disagrees with the checkpoint\'s (4)' in out
    assert ckpt in out


def test_shape_check_unit():
    import torch.nn as nn

    from mmsfda.compat import check_state_dict_shapes
    m = nn.Sequential(nn.Conv2d(3, 4, 1))
    check_state_dict_shapes(m, m.state_dict())
    bad = {'0.weight': torch.zeros(5, 3, 1, 1), '0.bias': torch.zeros(5)}
    with pytest.raises(ValueError, match=r'0.weight: checkpoint \(5, 3, 1, 1\), model \(4, 3, 1, 1\)'):
        check_state_dict_shapes(m, bad)


KILLER = '''
import os

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class KillAfterIterHook(Hook):
    """``os._exit(137)`` (no clean-up, as SIGKILL) after iteration $KILL_AFTER_ITER, if set."""
    priority = 'LOWEST'  # after the iteration's checkpoint

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if str(runner.iter + 1) == os.environ.get('KILL_AFTER_ITER'):  # iter: 0-based, not yet +1
            os._exit(137)
'''


def test_resume_is_the_same_command_plus_resume(tiny_seg_data, tmp_path):
    """An adaptation run started with ``load_from=<source checkpoint>`` and killed, rerun with the
    same command plus ``--resume``, continues from the work dir's last checkpoint (mmengine 0.10.7
    would resume from ``load_from``), and ends with the uninterrupted run's weights."""
    (tmp_path / 'killer.py').write_text(KILLER)
    source_work = str(tmp_path / 'source')
    run_tool([mmseg_tool('train.py'), write_config(str(tmp_path / 'src.py'), tiny_seg_data, 3, 3, 3),
              '--work-dir', source_work])
    source = osp.join(source_work, 'iter_3.pth')

    cfg = write_config(str(tmp_path / 'adapt.py'), tiny_seg_data, 4, 4, 2)
    with open(cfg, 'a') as f:
        f.write("custom_imports = dict(imports=['mmsfda', 'killer'], allow_failed_imports=False)\n"
                "custom_hooks = [dict(type='KillAfterIterHook')]\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO, str(tmp_path), os.environ.get('PYTHONPATH', '')]))

    def train(work, *extra, kill=None):
        cmd = [sys.executable, mmseg_tool('train.py'), cfg, '--work-dir', work, *extra,
               '--cfg-options', f'load_from={source}']
        run_env = dict(env, KILL_AFTER_ITER=str(kill)) if kill else env
        return subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True,
                              timeout=600)

    full = str(tmp_path / 'full')
    assert train(full).returncode == 0
    work = str(tmp_path / 'work')
    killed = train(work, kill=3)
    assert killed.returncode == 137, killed.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'iter_2.pth')) and not osp.exists(osp.join(work, 'iter_4.pth'))
    proc = train(work, '--resume')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert f'Resuming from {osp.join(work, "iter_2.pth")}' in out
    assert 'resumed epoch: 0, iter: 2' in out
    a, b = final_weights(full, 4), final_weights(work, 4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # load_from alone (no checkpoint in the work dir yet) initialises a fresh run, also with --resume
    proc = train(str(tmp_path / 'fresh'), '--resume')
    assert proc.returncode == 0 and 'a fresh run initialised from load_from' in \
        proc.stdout + proc.stderr
    c = final_weights(str(tmp_path / 'fresh'), 4)
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_latest_checkpoint_ignores_best_checkpoints(tmp_path):
    """Without a usable last_checkpoint pointer, the newest iter_<n>.pth is resumed from, never a
    best_<metric>_iter_<n>.pth (resuming from it would not write iter_<n>.pth again)."""
    from mmsfda.compat import latest_checkpoint
    for name in ('iter_2.pth', 'iter_4.pth', 'best_mIoU_iter_6.pth'):
        (tmp_path / name).write_bytes(b'x')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone' / 'iter_9.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


# --------------------------------------------------------------------------- scope of the shape check
def _plain_and_mismatching_file(tmp_path, num_classes=5):
    from mmseg.registry import MODELS

    from test_models.test_segmentors import adaptation_models as am
    path = str(tmp_path / f'{num_classes}cls.pth')
    other = am.student_cfg(REPO)
    other['decode_head']['num_classes'] = num_classes
    torch.save(dict(state_dict=MODELS.build(other).state_dict()), path)
    return MODELS.build(am.student_cfg(REPO)), path


def test_plain_mmseg_model_keeps_mmengine_behaviour(tmp_path):
    """Ordinary mmseg fine-tuning with another num_classes still loads (mmengine warns), unless a
    run asks for the check; mmsfda's own models always check."""
    from mmengine.runner.checkpoint import load_checkpoint
    from mmseg.registry import MODELS

    from mmsfda.compat import checkpoint_shape_check
    from test_models.test_segmentors import adaptation_models as am
    plain, path = _plain_and_mismatching_file(tmp_path)
    head = plain.decode_head.aspp[0].weight.clone()
    load_checkpoint(plain, path, map_location='cpu')  # mismatching head skipped, as mmengine does
    assert torch.equal(plain.decode_head.aspp[0].weight, head)
    with checkpoint_shape_check(True), pytest.raises(ValueError, match='num_classes'):
        load_checkpoint(plain, path, map_location='cpu')
    adaptation = MODELS.build(am.dacs_cfg(REPO))
    with pytest.raises(ValueError, match=r'student.decode_head.aspp.0.weight: checkpoint \(5, '):
        load_checkpoint(adaptation, path, map_location='cpu')


def test_runner_checks_shapes_only_when_the_config_asks(tmp_path, tiny_seg_data):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from test_models.test_segmentors import adaptation_models as am
    _, path = _plain_and_mismatching_file(tmp_path)

    def runner(name, **extra):
        return Runner(model=am.student_cfg(REPO), work_dir=str(tmp_path / name),
                      default_scope='mmseg', cfg=Config(extra))

    runner('plain').load_checkpoint(path)  # an mmseg config: mmengine's warning
    with pytest.raises(ValueError, match='num_classes'):
        runner('strict', strict_checkpoint_shapes=True).load_checkpoint(path)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/default_runtime.py')
    assert cfg.strict_checkpoint_shapes is True  # every mmsfda config asks


def test_version_check_names_versions_and_the_fix(monkeypatch):
    from mmsfda.version_check import check_versions
    ok = {'mmengine': '0.10.7', 'mmcv': '2.1.0', 'mmsegmentation': '1.2.2'}
    check_versions(ok)
    with pytest.raises(ImportError) as err:
        check_versions(dict(ok, mmengine='0.11.1', mmcv=None))
    msg = str(err.value)
    assert 'mmengine==0.11.1 is installed; mmsfda supports 0.10.7 <= mmengine < 0.11.0' in msg
    assert 'mmcv is not installed (mmsfda needs mmcv==2.1.0)' in msg
    assert 'pip install mmengine==0.10.7 mmcv==2.1.0 mmsegmentation==1.2.2' in msg
    monkeypatch.setenv('MMSFDA_SKIP_VERSION_CHECK', '1')
    with pytest.warns(UserWarning, match='mmengine==0.11.1'):
        check_versions(dict(ok, mmengine='0.11.1'))


def test_config_text_is_formatted_once_per_text(monkeypatch):
    """A Runner asks for ``Config.pretty_text`` several times: yapf formats one text once, and
    the memoised text is the one mmengine's formatting gives (compat item 11)."""
    import uuid

    from mmengine.config import Config

    import mmsfda.compat as compat
    real = compat._yapf_format_code
    calls = []

    def counting(text, **kwargs):
        calls.append(text)
        return real(text, **kwargs)
    monkeypatch.setattr(compat, '_yapf_format_code', counting)
    cfg = Config(dict(model=dict(type='Net', depth=18, widths=[1, 2, 3]),
                      work_dir=f'/tmp/{uuid.uuid4().hex}'))  # a text no earlier test formatted
    texts = [cfg.pretty_text, cfg.pretty_text, cfg.dump()]
    assert len(calls) == 1 and texts[0] == texts[1] == texts[2]
    assert texts[0] == real(calls[0], style_config=dict(
        based_on_style='pep8', blank_line_before_nested_class_or_def=True,
        split_before_expression_after_opening_paren=True))[0]
    cfg.model.depth = 50  # another text: formatted anew
    assert 'depth=50' in cfg.pretty_text and len(calls) == 2
