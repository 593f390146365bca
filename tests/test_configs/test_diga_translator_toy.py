"""DiGA with the learned translator on the toy benchmark: the translator, the warm-up and the
self-training stages through mmseg's own tools/train.py (tools/run_stages.py), the translator's
checkpoint as the warm-up's load_from or its config option, the errors for a translator of other
images or channels, and exact resume of the translator."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
from test_exact_resume import KillAfterIter, Killed, differing, make_cfg, train  # noqa: E402
from toy_self_training import make_toy_data  # noqa: E402

RUN = osp.join(REPO, 'tools', 'run_stages.py')
STAGES = osp.join(REPO, 'configs', 'diga', 'stages_toy_translator.py')
TRANSLATOR = ('configs/diga/diga-translator_munit-lite-tiny_1xb2-500_'
              'toy-source-to-target-128x256.py')
WARMUP = ('configs/diga/diga-warmup-translator_deeplabv2-proda_r18-tiny_1xb4-300_'
          'toy-source-to-target-128x256.py')
SMALL = '[64,128]'


def loader(prefix):
    return [f'{prefix}.batch_size=2', f'{prefix}.num_workers=0',
            f'{prefix}.persistent_workers=False']


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    """The three stages: 2 translator iterations, 2 warm-up iterations, one self-training round of
    1 iteration (the two-round schedule is tested in test_diga_toy.py)."""
    root = tmp_path_factory.mktemp('diga_translator')
    data = make_toy_data(str(root))
    work = str(root / 'run')
    size = [f'data_preprocessor.size={SMALL}', f'model.student.data_preprocessor.size={SMALL}']
    translator = ['train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
                  f'model.data_preprocessor.size={SMALL}', *loader('train_dataloader')]
    warmup = [*size, 'train_cfg.max_iters=2', 'train_cfg.val_interval=1000',
              'default_hooks.checkpoint.interval=2',
              *loader('train_dataloader'), *loader('val_dataloader')]
    selftrain = [*size, 'train_cfg.rounds=[1]', 'train_cfg.val_interval=1000',
                 'default_hooks.checkpoint.interval=1',
                 *loader('train_dataloader'), *loader('val_dataloader'),
                 *loader('train_cfg.label_dataloader'),
                 *loader('default_hooks.prototype_init.dataloader')]
    options = ['default_hooks.logger.interval=1', *(f'translator:{o}' for o in translator),
               *(f'warmup:{o}' for o in warmup), *(f'selftrain:{o}' for o in selftrain)]
    cmd = [sys.executable, RUN, STAGES, '--work-dir', work, '--seed', '0', '--data-root', data,
           '--cfg-options', *options]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = {s: open(f'{work}/{s}/train.log').read() for s in ('translator', 'warmup', 'selftrain')
            if osp.isfile(f'{work}/{s}/train.log')}
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + str(logs)[-3000:]
    return data, work, logs


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_translator_feeds_warmup_and_selftrain(pipeline):
    data, work, logs = pipeline
    for name in ('loss_adv', 'loss_cycle', 'loss_edge', 'loss_recon', 'loss_dis_source',
                 'loss_discriminator', 'loss_generator'):
        assert name in logs['translator'], name
    assert 'src.loss_kd' in logs['warmup'] and 'tgt.loss_mix_ce' in logs['selftrain']
    translator = weights(f'{work}/translator/iter_2.pth')
    warmup = weights(f'{work}/warmup/iter_2.pth')
    selftrain = weights(f'{work}/selftrain/iter_1.pth')
    # The warm-up took the source encoder and the target decoder, unchanged (frozen), and
    # handed them on to the self-training.
    for own, theirs in (('encoder', 'generator.encoders.source'),
                        ('decoder', 'generator.decoders.target')):
        keys = [k for k in translator if k.startswith(theirs + '.')]
        assert keys
        for k in keys:
            mine = 'mixture.translator.' + own + k[len(theirs):]
            assert torch.equal(warmup[mine], translator[k]), mine
            assert torch.equal(selftrain[mine], translator[k]), mine
    assert bool(warmup['mixture.translator.loaded'])
    assert not any(k.startswith(('generator.', 'discriminator.')) for k in warmup)


def test_warmup_reads_translator_from_its_config_option(pipeline, tmp_path, monkeypatch):
    """``model.mixture.translator.checkpoint`` instead of load_from; source images only."""
    data, work, _ = pipeline
    from mmsfda.datasets.transforms.checked_loading import CheckedLoadImageFromFile
    load, read = CheckedLoadImageFromFile.transform, []

    def recording(transform, results):
        read.append(results['img_path'])
        return load(transform, results)

    monkeypatch.setattr(CheckedLoadImageFromFile, 'transform', recording)
    ckpt = f'{work}/translator/iter_2.pth'
    runner = train(make_cfg(WARMUP, data, tmp_path / 'w', [
        'train_cfg.max_iters=1', 'train_cfg.val_interval=1000',
        f'model.mixture.translator.checkpoint={ckpt}']))
    assert read and all('/source/' in p for p in read)
    view = runner.model.mixture.translator
    assert torch.equal(view.decoder.model[0].body[0][1].weight,
                       weights(ckpt)['generator.decoders.target.model.0.body.0.1.weight'])


def test_warmup_without_translator_weights_is_an_error(pipeline, tmp_path):
    data, _, _ = pipeline
    with pytest.raises(RuntimeError, match='LearnedTranslatedView has no weights'):
        train(make_cfg(WARMUP, data, tmp_path / 'w', ['train_cfg.max_iters=1',
                                                      'train_cfg.val_interval=1000']))


@pytest.mark.parametrize('via', ['load_from', 'checkpoint'])
@pytest.mark.parametrize('change, match', [
    ('model.mixture.translator.image_size=[64,64]',
     r'image_size\)? says it was trained on \(128, 256\) crops, '
     r'model.mixture.translator.image_size is \(64, 64\)'),
    ('model.mixture.translator.generator.in_channels=1',
     r'generator.encoders.source.model.0.1.weight\)? has shape \(16, 3, 7, 7\), '
     r'model.mixture.translator expects \(16, 1, 7, 7\)'),
])
def test_translator_for_other_images_or_channels_is_a_clear_error(pipeline, tmp_path, via,
                                                                  change, match):
    data, work, _ = pipeline
    ckpt = f'{work}/translator/iter_2.pth'
    option = f'load_from={ckpt}' if via == 'load_from' else \
        f'model.mixture.translator.checkpoint={ckpt}'
    with pytest.raises(ValueError, match=rf'translator checkpoint {ckpt}[\s\S]*{match}'):
        train(make_cfg(WARMUP, data, tmp_path / 'w', ['train_cfg.max_iters=1', change, option]))


def test_translator_resumes_exactly(pipeline, tmp_path):
    """Killed after iteration 3 (checkpoint at 2), resumed: the uninterrupted run's weights
    (generator, discriminators) at iteration 4."""
    data, _, _ = pipeline

    def cfg(work, resume=False):
        return make_cfg(TRANSLATOR, data, work, [
            'train_cfg.max_iters=4', 'default_hooks.checkpoint.interval=2',
            f'model.data_preprocessor.size={SMALL}', 'param_scheduler.generator.0.end=4',
            'param_scheduler.discriminator.0.end=4'], resume=resume)

    ref, work = tmp_path / 'ref', tmp_path / 'run'
    train(cfg(ref))
    with pytest.raises(Killed):
        train(cfg(work), hooks=[KillAfterIter(3)])
    assert not osp.exists(work / 'iter_4.pth')
    runner = train(cfg(work, resume=True))
    assert runner.iter == 4
    assert differing(str(ref / 'iter_2.pth'), str(ref / 'iter_4.pth'))  # it trains
    diff = differing(str(ref / 'iter_4.pth'), str(work / 'iter_4.pth'))
    assert not diff, f'{len(diff)} tensors differ from the uninterrupted run: {diff[:5]}'


@pytest.mark.parametrize('bench', ['toy', 'gta5', 'synthia'])
def test_each_translator_stages_file_chains_fitting_configs(bench):
    """The translator of each stages file builds, and its checkpoint keys fit the warm-up's and
    the self-training's translated view (same generator, same image size)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    stages = Config.fromfile(osp.join(REPO, 'configs', 'diga',
                                      f'stages_{bench}_translator.py')).stages
    assert [s['name'] for s in stages] == ['translator', 'warmup', 'selftrain']
    cfgs = [Config.fromfile(osp.join(REPO, 'configs', 'diga', s['config'])) for s in stages]
    translator = MODELS.build(cfgs[0].model)
    assert cfgs[0].train_dataloader.dataset.type == 'DomainPairDataset'
    assert cfgs[0].val_cfg is None and cfgs[0].optim_wrapper.generator.optimizer.lr == 1e-4
    state = translator.state_dict()
    for cfg in cfgs[1:]:
        view = MODELS.build(cfg.model.mixture.translator)
        mapped = {k[len('v.'):]: v for k, v in
                  view.map_checkpoint_keys(dict(state), '', 'v.').items()}
        own = view.state_dict()
        assert set(mapped) == set(own)
        assert all(mapped[k].shape == own[k].shape for k in own)
        view.check_checkpoint(mapped, 'translator.pth')  # same image_size: no error
    assert 'source' not in cfgs[1].train_dataloader.dataset  # the warm-up reads source only
