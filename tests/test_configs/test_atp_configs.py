"""ATP's toy stages in order (A -> T -> P, the black-box distillation), in-process as mmseg's
tools/train.py runs them, on tiny images: what each stage trains and keeps, exact resume of P,
that the black-box stages never read the source weights, the bad-input errors, and that the
real-data configs build (Cityscapes -> ACDC: on a tiny ACDC layout)."""
import glob
import json
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
from test_exact_resume import Killed, KillAfterIter, make_cfg, train, weights  # noqa: E402
from toy_self_training import make_source_checkpoint, make_toy_data  # noqa: E402

TOY = {s: glob.glob(osp.join(REPO, 'configs', 'atp', f'atp-{s}_*toy*.py'))[0]
       for s in ('align', 'teach', 'teach-public', 'propagate', 'distill')}
SOURCE_CONFIG = 'configs/source_only/deeplabv2_r18-tiny_1xb4-800_toy-source-128x256.py'


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('atp')
    data = make_toy_data(str(root), num_train=6)
    source = make_source_checkpoint(str(root / 'source.pth'), config=TOY['align'])
    return data, source, root


def _cfg(stage, toy, work, options=(), **kwargs):
    data, _, _ = toy
    return make_cfg(osp.relpath(TOY[stage], REPO), data, work, list(options), **kwargs)


@pytest.fixture(scope='module')
def stages(toy):
    """A (2 iterations) -> T (rounds of 1) -> P (2 iterations, contrast from step 1)."""
    _, source, root = toy
    align = root / 'align'
    train(_cfg('align', toy, align, [f'load_from={source}', 'train_cfg.max_iters=2',
                                     'default_hooks.checkpoint.interval=2']))
    teach = root / 'teach'
    train(_cfg('teach', toy, teach, [f'load_from={align}/iter_2.pth', 'train_cfg.rounds=[1,1]']))
    return dict(source=source, align=str(align), teach=str(teach))


def propagate_cfg(toy, work, start, iters=4, **kwargs):
    return _cfg('propagate', toy, work, [f'load_from={start}', f'train_cfg.max_iters={iters}',
                                         'default_hooks.checkpoint.interval=2',
                                         'model.contrast_begin=1'], **kwargs)


def test_align_freezes_the_classifier(stages):
    src = torch.load(stages['source'], weights_only=False)['state_dict']
    out = weights(osp.join(stages['align'], 'iter_2.pth'))
    head = [k for k in src if k.startswith('decode_head.')]
    assert head and all(torch.equal(src[k], out['student.' + k]) for k in head)
    assert any(not torch.equal(src[k], out['student.' + k]) for k in src
               if k.startswith('backbone.') and src[k].is_floating_point())
    assert int(out['target_losses.0.step']) == 2  # the curriculum's position is saved


def test_teach_trains_positive_and_negative_labels(stages):
    log = ''.join(open(p).read() for p in glob.glob(osp.join(stages['teach'], '*', '*.log')))
    assert 'tgt.loss_pl_ce' in log and 'tgt.loss_neg' in log
    # the student learns the labels on a strongly augmented view (the toy default)
    assert Config.fromfile(TOY['teach']).model.strong_augment.type == 'StrongAugment'
    assert osp.isfile(osp.join(stages['teach'], 'pseudo_labels', 'round_1', 'manifest.json'))


def test_propagate_split_prototypes_and_exact_resume(toy, stages, tmp_path):
    start = osp.join(stages['teach'], 'iter_2.pth')
    ref = tmp_path / 'reference'
    train(propagate_cfg(toy, ref, start))
    with open(ref / 'entropy_split' / 'split_meta.json') as f:
        meta = json.load(f)
    assert meta['num_images'] == 6 and meta['num_easy'] == 2  # round(0.3 * 6)
    easy = open(ref / 'entropy_split' / 'easy_split.txt').read().split()
    scores = meta['scores']
    assert max(scores[n] for n in easy) <= min(v for k, v in scores.items() if k not in easy)
    final = weights(ref / 'iter_4.pth')
    assert int(final['step']) == 4 and final['aux.prototypes.count'].sum() > 0
    assert any(k.startswith('aux.proj_head.') for k in final)
    # the EMA teacher stays anchored to the Teach model (alpha 0.999 from the first step, no
    # warm-up): after 4 steps it has moved about 0.001 x the sum of the students' moves (with
    # DAFormer's warm-up it would be their mean: about half of the last student's move)
    teach = weights(start)
    params = [k[len('student.'):] for k in teach if k.startswith('student.') and 'conv' in k
              and k.endswith('weight')]
    moved = sum((final['teacher.' + k] - teach['student.' + k]).norm() for k in params)
    drift = sum((final['student.' + k] - teach['student.' + k]).norm() for k in params)
    assert drift > 0 and moved < 0.05 * drift, (moved, drift)
    # killed after iteration 3 (last checkpoint: 2), resumed: the same weights and state
    work = tmp_path / 'killed'
    with pytest.raises(Killed):
        train(propagate_cfg(toy, work, start), hooks=[KillAfterIter(3)])
    train(propagate_cfg(toy, work, start, resume=True))
    resumed = weights(work / 'iter_4.pth')
    diff = [k for k in final if not torch.equal(final[k], resumed[k])]
    assert not diff, diff[:5]


def test_teach_public_form_trains_on_crops(toy, stages, tmp_path):
    runner = train(_cfg('teach-public', toy, tmp_path, [
        f'load_from={stages["align"]}/iter_2.pth', 'train_cfg.max_iters=1',
        'model.crop.crop_size=[32,32]', 'default_hooks.checkpoint.interval=1']))
    assert runner.iter == 1 and runner.model.teacher is not None


def write_predictions(toy, out, fmt='probs'):
    data, source, _ = toy
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from atp_black_box_predictions import main
    main([osp.join(REPO, SOURCE_CONFIG), source, f'{data}/target/images/train', '--out', str(out),
          '--format', fmt])
    return str(out)


def distill_cfg(toy, work, pred_dir, options=()):
    return _cfg('distill', toy, work, [
        f'train_dataloader.dataset.pipeline.1.pred_dir={pred_dir}', 'train_cfg.max_iters=2',
        'default_hooks.checkpoint.interval=2', *options])


def test_black_box_stage_never_loads_the_source_weights(toy, tmp_path, monkeypatch):
    _, source, _ = toy
    pred_dir = write_predictions(toy, tmp_path / 'preds')
    assert Config.fromfile(TOY['distill']).load_from is None
    stages_cfg = Config.fromfile(osp.join(REPO, 'configs', 'atp', 'stages_black_box_toy.py'))
    assert stages_cfg.stages[0]['load_from'] is None
    loaded = []
    real_load = torch.load

    def recording_load(f, *args, **kwargs):
        loaded.append(osp.abspath(str(f)) if isinstance(f, (str, bytes)) else repr(f))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, 'load', recording_load)
    runner = train(distill_cfg(toy, tmp_path / 'distill', pred_dir))
    assert runner.iter == 2
    assert osp.abspath(source) not in loaded and not any('source' in p for p in loaded)
    log = ''.join(open(p).read() for p in glob.glob(str(tmp_path / 'distill' / '*' / '*.log')))
    assert 'tgt.loss_kl' in log


def test_bad_inputs_are_named(toy, stages, tmp_path):
    from mmsfda.datasets.easy_hard_pair_dataset import EasyHardPairDataset
    data, _, _ = toy
    # predictions of another class count
    pred_dir = write_predictions(toy, tmp_path / 'preds', fmt='labels')
    meta = json.load(open(osp.join(pred_dir, 'meta.json')))
    json.dump(dict(meta, num_classes=19), open(osp.join(pred_dir, 'meta.json'), 'w'))
    with pytest.raises(ValueError, match='num_classes is 19'):
        train(distill_cfg(toy, tmp_path / 'bad_classes', pred_dir,
                          ['model.target_losses.0.type=PseudoLabelCELoss']))
    # predictions that do not cover the target set
    json.dump(meta, open(osp.join(pred_dir, 'meta.json'), 'w'))
    for f in glob.glob(osp.join(pred_dir, '*.png')):
        import os
        os.remove(f)
    with pytest.raises(FileNotFoundError, match='do not cover'):
        train(distill_cfg(toy, tmp_path / 'bad_cover', pred_dir,
                          ['model.target_losses.0.type=PseudoLabelCELoss']))
    # an easy/hard split of another dataset
    split = str(tmp_path / 'split')
    from mmsfda.engine.entropy_split import write_split
    write_split(split, {f'{data}/source/images/train/0000{i}.png': i for i in range(3)}, 0.3,
                f'{data}/source/images/train', '.png')
    target = dict(type='ToyCityDataset', data_root=f'{data}/target',
                  data_prefix=dict(img_path='images/train'), pipeline=[])
    with pytest.raises(ValueError, match='another dataset'):
        EasyHardPairDataset(target, split)
    # a frozen classifier the student does not have
    from mmseg.registry import MODELS
    cfg = Config.fromfile(TOY['align'])
    with pytest.raises(ValueError, match="frozen_classifier='decode_head.conv_seg'"):
        MODELS.build(dict(cfg.model, frozen_classifier='decode_head.conv_seg'))


# The public-code (DAFormer MiT-B5) configs: GTA5 -> Cityscapes (each with its SYNTHIA twin) and
# Cityscapes -> ACDC (all conditions and each condition).
MITB5 = sorted(p for p in glob.glob(osp.join(REPO, 'configs', 'atp', 'atp-*mitb5*.py'))
               if 'synthia' not in p)


@pytest.fixture(scope='module')
def acdc_root(tmp_path_factory):
    """One frame per condition and split of ACDC's layout, 16:9 as ACDC's 1920x1080."""
    from test_datasets.test_acdc import write_acdc
    root = str(tmp_path_factory.mktemp('data') / 'acdc')
    write_acdc(root, conditions=('fog', 'night', 'rain', 'snow'), splits=('train', 'val'), num=1,
               shape=(36, 64))
    return root


def acdc_datasets(node, where=''):
    """``(where, dataset config)`` of every ACDCDataset in a config tree."""
    if isinstance(node, dict):
        if node.get('type') == 'ACDCDataset':
            yield where, node
        for k, v in node.items():
            yield from acdc_datasets(v, f'{where}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from acdc_datasets(v, f'{where}.{i}')


def check_acdc_datasets(cfg, path, root):
    """Every ACDC dataset a run uses reads the file name's condition(s): train images unlabelled
    (source-free), ACDC val with labels for evaluation; each builds and loads on the layout."""
    from mmseg.registry import DATASETS
    match = re.search(r'acdc-(fog|night|rain|snow)-640x640', path)
    want = (match.group(1), ) if match else ('fog', 'night', 'rain', 'snow')
    used = [d for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg')
            for d in acdc_datasets(cfg[key], key)]
    assert {w.split('.')[0] for w, _ in used} >= {'train_dataloader', 'val_dataloader',
                                                 'test_dataloader'}
    for where, ds in used:
        assert tuple(ds.conditions) == want, (where, ds.conditions)
        labelled = where.startswith(('val_', 'test_'))
        assert ds.split == ('val' if labelled else 'train'), where
        assert ('seg_map_path' in ds.data_prefix) == labelled, where
        assert ds.data_root == 'data/acdc'
        dataset = DATASETS.build(dict(ds, data_root=root))
        assert len(dataset) == len(want), where
        assert dataset[0]['inputs'].shape[-2:] in ((720, 1280), (640, 640)), where
    if 'propagate' in path:
        assert cfg.train_cfg.rank_dataloader.dataset.pipeline[1].scale == (1280, 720)
    if 'teach' in path:
        assert tuple(cfg.model.student.data_preprocessor.size) == (720, 1280)


@pytest.mark.parametrize('path', MITB5, ids=osp.basename)
def test_public_code_setting_configs_build(path, acdc_root):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    cfg.model.student.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 6e-5
    assert cfg.train_cfg.max_iters == 40000 and model.setting == 'sfda'
    trainable = {n for n, p in model.student.named_parameters() if p.requires_grad}
    if 'align' in path:
        assert trainable and not any(n.startswith('decode_head.conv_seg') for n in trainable)
    if 'propagate' in path:  # nothing of the single-image train dataset merged into the pairs
        assert set(cfg.train_dataloader.dataset) == {'type', 'dataset'}
    if 'gta5' in path:
        synthia = Config.fromfile(path.replace('gta5', 'synthia'))
        assert synthia.val_evaluator[0].subsets == 'synthia19'
    else:
        assert 'cityscapes-to-acdc' in path
        check_acdc_datasets(cfg, path, acdc_root)


def test_online_ema_teach_base_uses_the_teachers_negatives():
    """configs/_base_/methods/atp_teach_ema.py: one training step of the composition, negative
    labels chosen from the EMA teacher's probabilities (not the student's)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    base = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'methods', 'atp_teach_ema.py'))
    student = Config.fromfile(TOY['align']).model.student
    student.data_preprocessor.size = (32, 64)
    model = MODELS.build(dict(base.method_model, student=student,
                              pseudo_labeler=dict(base.method_model.pseudo_labeler,
                                                  num_classes=10)))
    model.init_weights()
    neg = model.target_losses[1]
    assert neg.probs_from == 'teacher' and model.teacher is not None
    seen = []
    real_forward = type(neg).forward

    def spy(self, seg_logits, pseudo_labels=None, **ctx):
        seen.append(pseudo_labels.probs)
        return real_forward(self, seg_logits, pseudo_labels, **ctx)

    type(neg).forward = spy
    try:
        samples = [SegDataSample(metainfo=dict(img_shape=(32, 64), ori_shape=(32, 64),
                                               pad_shape=(32, 64)),
                                 gt_sem_seg=PixelData(data=torch.zeros(1, 32, 64).long()))
                   for _ in range(2)]
        data = dict(inputs=[torch.randint(0, 255, (3, 32, 64), dtype=torch.uint8)
                            for _ in range(2)], data_samples=samples)
        optim = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.01)))
        log = model.train_step(data, optim)
    finally:
        type(neg).forward = real_forward
    assert 'tgt.loss_neg' in log and 'tgt.loss_pl_ce' in log
    assert seen and seen[0] is not None and seen[0].shape[1] == 10
