"""UPLR stage 1 through mmengine's runner: ClassUncertaintyHook (I^c, S_k at the stage start, into
the model, the sampler and class_uncertainty.json), bad uncertainty files, and exact resume (both
optimisers and the sampler's weights)."""
import json
import os.path as osp

import pytest
import torch

from test_exact_resume import KillAfterIter, Killed, differing, make_cfg, train
from toy_self_training import make_source_checkpoint, make_toy_data

UPLR_S1 = 'configs/uplr/uplr-s1-aa_deeplabv2_r18-tiny_1xb4-300_toy-source-to-target-128x256.py'
ITERS = 6


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('uplr')
    data = make_toy_data(str(root))
    return data, root, make_source_checkpoint(str(root / 'source.pth'), config=UPLR_S1)


def s1_cfg(toy, work, extra=(), **kwargs):
    data, _, source = toy
    opts = [f'load_from={source}', f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=1000',
            'default_hooks.checkpoint.interval=3', 'model.top_k=3', *extra]
    return make_cfg(UPLR_S1, data, work, opts, **kwargs)


@pytest.fixture(scope='module')
def reference(toy):
    work = toy[1] / 'reference'
    runner = train(s1_cfg(toy, work))
    return str(work), runner


def test_the_stage_start_computes_and_hands_on_the_class_uncertainty(toy, reference):
    work, runner = reference
    model = runner.model
    summary = json.load(open(osp.join(work, 'class_uncertainty.json')))
    assert summary['num_classes'] == 10 and summary['dataset']['num_images'] == 4
    cu = model.class_uncertainty
    assert cu.uncertain_classes == summary['uncertain_classes'] and len(cu.uncertain_classes) == 3
    assert sum(summary['pixel_count']) == 4 * 64 * 128  # every target train pixel, once
    sampler = runner.train_loop.dataloader.sampler
    assert sampler.uncertain == sorted(summary['uncertain_classes'])
    assert not (sampler.weights == sampler.weights[0]).all()
    ckpt = torch.load(osp.join(work, f'iter_{ITERS}.pth'), map_location='cpu', weights_only=False)
    assert ckpt['class_uncertainty']['sampler']['uncertain'] == sampler.uncertain
    assert torch.equal(ckpt['state_dict']['class_uncertainty.uncertain'], cu.uncertain.cpu())


def test_killed_and_resumed_ends_as_the_uninterrupted_run(toy, reference, tmp_path):
    """Killed after iteration 4 (checkpoint 3): the resumed run restores I^c, S_k and the
    sampler's weights instead of recomputing them, replays the sampler, and ends with the same
    segmenter, discriminator and both optimisers' states."""
    work_ref, _ = reference
    work = tmp_path / 'uplr'
    with pytest.raises(Killed):
        train(s1_cfg(toy, work), hooks=[KillAfterIter(4)])
    (work / 'class_uncertainty.json').unlink()  # the resumed run must not recompute it
    runner = train(s1_cfg(toy, work, resume=True))
    assert runner.iter == ITERS and not (work / 'class_uncertainty.json').exists()
    final = osp.join(work_ref, f'iter_{ITERS}.pth')
    assert differing(osp.join(work_ref, 'iter_3.pth'), final)
    diff = differing(final, str(work / f'iter_{ITERS}.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'
    a, b = (torch.load(p, map_location='cpu', weights_only=False)['optimizer']
            for p in (final, str(work / f'iter_{ITERS}.pth')))
    assert set(a) == {'student', 'discriminator'}
    for name in a:
        for k, sa in a[name]['state'].items():
            for key, v in sa.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(b[name]['state'][k][key])), \
                    (name, k, key)
    reference_s_k = json.load(open(osp.join(work_ref, 'class_uncertainty.json')))
    assert runner.train_loop.dataloader.sampler.uncertain == sorted(
        reference_s_k['uncertain_classes'])


def test_an_uncertainty_file_of_another_dataset_or_class_count_is_refused(toy, reference,
                                                                           tmp_path):
    work_ref, _ = reference
    summary = json.load(open(osp.join(work_ref, 'class_uncertainty.json')))
    bad_classes = tmp_path / 'classes.json'
    bad_classes.write_text(json.dumps(dict(summary, num_classes=19)))
    bad_data = tmp_path / 'data.json'
    bad_data.write_text(json.dumps(dict(summary, dataset=dict(summary['dataset'], num_images=9))))
    for path, match in ((bad_classes, 'num_classes is 19, the model has 10'),
                        (bad_data, 'is not the target set of this run')):
        cfg = s1_cfg(toy, tmp_path / path.stem,
                     [f'default_hooks.class_uncertainty.uncertainty_file={path}'])
        with pytest.raises(ValueError, match=f'{path}.*{match}|{match}'):
            train(cfg)
    good = s1_cfg(toy, tmp_path / 'good', ['train_cfg.max_iters=1',
                                           f'default_hooks.class_uncertainty.uncertainty_file='
                                           f'{osp.join(work_ref, "class_uncertainty.json")}'])
    runner = train(good)
    assert runner.model.class_uncertainty.uncertain_classes == summary['uncertain_classes']
