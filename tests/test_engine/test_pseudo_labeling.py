"""label_dataset: test-time augmentation, files and manifest, reuse keyed by a hash, resume."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.runner import Runner
from mmseg.registry import MODELS

from conftest import write_tiny_seg_data, free_port
from mmsfda.datasets import pseudo_label_files as plf
from mmsfda.engine import pseudo_labeling as pl
from mmsfda.engine.pseudo_labeling import (LabelingTTA, build_tta, label_dataloader_cfg,
                                           label_dataset, tta_outputs, window_starts)

C = 4


class ConvLabelModel(nn.Module):
    """A segmentor-shaped model whose label network is one conv: ``teacher_outputs`` is its
    softmax; ``calls`` counts the images it labelled."""

    def __init__(self, kernel_size=1, labeler=None, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Conv2d(3, C, kernel_size, padding=kernel_size // 2)
        self.data_preprocessor = MODELS.build(dict(
            type='SegDataPreProcessor', mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True,
            size_divisor=8, pad_val=0, seg_pad_val=255))
        self.pseudo_labeler = labeler if labeler is not None else MODELS.build(
            dict(type='ClassBalancedLabeler', num_classes=C, proportion=0.5, mode='offline'))
        self.num_classes = C
        self.align_corners = False
        self.teacher_mode = 'eval'
        self.calls = 0

    def teacher_outputs(self, img, metas=None):
        self.calls += img.shape[0]
        probs = self.net(img).softmax(dim=1)
        return probs, dict(score=img.mean(dim=(1, 2, 3)))


def mirror_symmetric_model():
    """A 3x3 conv whose kernels are symmetric left-right: flipping commutes with it."""
    model = ConvLabelModel(kernel_size=3)
    with torch.no_grad():
        w = model.net.weight
        w.copy_((w + w.flip(3)) / 2)
    return model


# ---------------------------------------------------------------------------- TTA
def test_flip_tta_of_a_flip_equivariant_model_equals_no_tta():
    model = mirror_symmetric_model()
    img = torch.randn(2, 3, 16, 24)
    plain, _ = tta_outputs(model, img, None, None)
    flipped, ctx = tta_outputs(model, img, None, build_tta(dict(flip=True)))
    torch.testing.assert_close(flipped, plain, rtol=0, atol=1e-6)
    # A model that is not mirror-symmetric gives another result: the test can fail.
    skewed = ConvLabelModel(kernel_size=3)
    a, _ = tta_outputs(skewed, img, None, None)
    b, _ = tta_outputs(skewed, img, None, build_tta(dict(flip=True)))
    assert (a - b).abs().max() > 1e-3
    # The context is averaged over the views: the flip does not change an image mean.
    torch.testing.assert_close(ctx['score'], img.mean(dim=(1, 2, 3)))


class FixedViews(nn.Module):
    """``teacher_outputs`` returns the probabilities of its view: by image width (scale)."""

    align_corners = False

    def __init__(self, by_width):
        super().__init__()
        self.by_width = by_width

    def teacher_outputs(self, img, metas=None):
        p = self.by_width[img.shape[3]]
        return p.view(1, -1, 1, 1).expand(img.shape[0], -1, *img.shape[2:]).clone(), {}


def test_mean_and_max_fusion_differ_as_expected():
    # Scale 1 (width 4) is torn between classes 0 and 1; scale 2 (width 8) prefers class 2.
    model = FixedViews({4: torch.tensor([0.5, 0.5, 0.0]), 8: torch.tensor([0.0, 0.45, 0.55])})
    img = torch.zeros(1, 3, 4, 4)
    mean, _ = tta_outputs(model, img, None, build_tta(dict(scales=[1, 2], fusion='mean')))
    mx, _ = tta_outputs(model, img, None, build_tta(dict(scales=[1, 2], fusion='max')))
    torch.testing.assert_close(mean[0, :, 0, 0], torch.tensor([0.25, 0.475, 0.275]))
    # max: (0.5, 0.5, 0.55) renormalised; the class one view is sure of wins.
    torch.testing.assert_close(mx[0, :, 0, 0], torch.tensor([0.5, 0.5, 0.55]) / 1.55)
    assert mean.argmax(1).unique().tolist() == [1] and mx.argmax(1).unique().tolist() == [2]
    torch.testing.assert_close(mx.sum(1), torch.ones(1, 4, 4))


def test_scales_resize_back_to_the_input():
    model = ConvLabelModel()
    img = torch.randn(1, 3, 16, 24)
    probs, _ = tta_outputs(model, img, None, build_tta(dict(scales=[0.75, 1.0, 1.25])))
    assert probs.shape == (1, C, 16, 24)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 16, 24))
    assert model.calls == 3


@pytest.mark.parametrize('crop, stride', [((8, 8), (8, 8)), ((8, 10), (5, 6)), ((16, 7), (3, 4))])
def test_sliding_window_equals_whole_inference_for_a_1x1_conv(crop, stride):
    model = ConvLabelModel(kernel_size=1)
    img = torch.randn(2, 3, 16, 24)
    whole, ctx_whole = tta_outputs(model, img, None, None)
    model.calls = 0
    slid, _ = tta_outputs(model, img, None, build_tta(dict(crop_size=crop, stride=stride)))
    torch.testing.assert_close(slid, whole, rtol=0, atol=1e-6)
    windows = len(window_starts(16, crop[0], stride[0])) * len(window_starts(24, crop[1],
                                                                              stride[1]))
    assert model.calls == 2 * windows > 2
    # A 3x3 conv sees the window borders: the windows then differ from the whole image.
    model3 = ConvLabelModel(kernel_size=3)
    a, _ = tta_outputs(model3, img, None, None)
    b, _ = tta_outputs(model3, img, None, build_tta(dict(crop_size=crop, stride=stride)))
    assert (a - b).abs().max() > 1e-4


def test_window_starts_cover_and_stay_inside():
    assert window_starts(16, 8, 8) == [0, 8]
    assert window_starts(17, 8, 8) == [0, 8, 9]
    assert window_starts(6, 8, 4) == [0]  # smaller than the window: one window
    for size, crop, stride in ((100, 33, 17), (64, 64, 10), (50, 7, 7)):
        starts = window_starts(size, crop, stride)
        covered = np.zeros(size, bool)
        for s in starts:
            assert 0 <= s and s + min(crop, size) <= size
            covered[s:s + crop] = True
        assert covered.all()


def test_tta_options():
    assert build_tta(None) is None and build_tta(dict()) is None
    assert build_tta(dict(scales=[1.0], fusion='max')) is None  # changes nothing
    t = build_tta(dict(scales=[0.5, 1], flip=True, crop_size=8))
    assert t == LabelingTTA(scales=(0.5, 1.0), flip=True, crop_size=(8, 8), stride=(8, 8))
    for bad, match in ((dict(fusion='median'), 'fusion'), (dict(scales=[0]), 'scales'),
                       (dict(stride=4), 'crop_size'), (dict(crop_size=(4, 0)), 'crop_size'),
                       (dict(flips=True), 'unknown TTA options')):
        with pytest.raises(ValueError, match=match):
            build_tta(bad)


# ---------------------------------------------------------------------------- label_dataset
def loader_cfg(root):
    return dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                dataset=dict(type='BaseSegDataset', data_root=root,
                             data_prefix=dict(img_path='img', seg_map_path='ann'),
                             img_suffix='.png', seg_map_suffix='.png',
                             metainfo=dict(classes=[str(i) for i in range(C)]),
                             pipeline=[dict(type='LoadImageFromFile'),
                                       dict(type='LoadAnnotations'),
                                       dict(type='PackSegInputs')]))


@pytest.fixture
def loader(tmp_path):
    root = write_tiny_seg_data(str(tmp_path / 'data'), num=5, shape=(20, 30), num_classes=C)
    return Runner.build_dataloader(label_dataloader_cfg(loader_cfg(root)), seed=0)


def files(out):
    return {osp.basename(p): open(p, 'rb').read() for p in sorted(glob.glob(f'{out}/*.png'))}


def test_label_dataloader_cfg_visits_every_image_once():
    cfg = label_dataloader_cfg(dict(sampler=dict(type='DefaultSampler', shuffle=True)))
    assert cfg['sampler'] == dict(type='DefaultSampler', shuffle=False, round_up=False)


def test_files_manifest_and_labels(loader, tmp_path):
    model = ConvLabelModel()
    model.diagnostics_use_target_gt = True  # the accuracy below reads target ground truth
    out = str(tmp_path / 'labels')
    m = label_dataset(model, loader, out, progress=False)
    stems = [f'{i:03d}' for i in range(5)]
    assert sorted(os.listdir(out)) == sorted(
        [f'{s}.png' for s in stems] + [f'{s}_weight.png' for s in stems] +
        ['identity.json', 'labeler_state.pt', 'manifest.json'])
    assert not m['reused'] and m['images_per_rank'] == [5] and m['reused_images'] == 0
    assert m['identity']['labeler']['type'] == 'ClassBalancedLabeler'
    assert m['identity']['labeler']['proportion'] == 0.5 and m['identity']['tta'] is None
    assert m['identity']['dataset']['num_images'] == 5 and m['identity']['round'] == 0
    assert 0.3 < m['stats']['coverage'] < 0.7 and m['stats']['accuracy'] is not None
    assert plf.read_json(f'{out}/manifest.json')['hash'] == m['hash']
    # Each file is the labeler's output on the model's probabilities of the original image.
    labeler = model.pseudo_labeler
    thresholds = labeler.thresholds.clone()
    for data in loader:
        batch = model.data_preprocessor(data, False)
        for img, sample in zip(batch['inputs'], batch['data_samples']):
            h, w = sample.ori_shape
            probs = model.net(img[None]).softmax(1)[:, :, :h, :w]
            conf, pred = probs.max(1)
            expected = torch.where(conf >= thresholds[pred], pred, torch.tensor(255))[0]
            labels, weights = plf.read_pseudo_label(out, sample.img_path)
            assert torch.equal(labels, expected)
            assert torch.equal(weights, (expected != 255).float())


def test_complete_directory_is_reused_with_its_round_state(loader, tmp_path):
    model = ConvLabelModel()
    out = str(tmp_path / 'labels')
    label_dataset(model, loader, out, round_idx=1, progress=False)
    thresholds = model.pseudo_labeler.thresholds.clone()
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{out}/*')}
    # The labeler moves on (another round's statistics), then the round is asked for again.
    model.pseudo_labeler.thresholds.fill_(0.99)
    model.pseudo_labeler.set_round(5)
    model.calls = 0
    m = label_dataset(model, loader, out, round_idx=1, progress=False)
    assert m['reused'] and model.calls == 0
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(f'{out}/*')} == before
    # The round's own state is back: the thresholds it was labelled with, and its round.
    assert torch.equal(model.pseudo_labeler.thresholds, thresholds)
    assert int(model.pseudo_labeler.round) == 1


@pytest.mark.parametrize('change, key', [
    (lambda model: model.net.bias.data.add_(0.1), 'model_sha1'),
    (lambda model: setattr(model.pseudo_labeler, 'proportion', 0.3), 'labeler.proportion'),
    (lambda model: None, 'tta.flip'),
    (lambda model: None, 'round'),
])
def test_another_labelling_is_redone_with_a_log_line(loader, tmp_path, monkeypatch, change, key):
    model = ConvLabelModel()
    out = str(tmp_path / 'labels')
    first = label_dataset(model, loader, out, progress=False)
    change(model)
    logs = []
    monkeypatch.setattr(pl, 'print_log', lambda msg, *a, **k: logs.append(msg))
    model.calls = 0
    kwargs = dict(tta=dict(flip=True)) if key == 'tta.flip' else {}
    kwargs.update(round_idx=3) if key == 'round' else None
    m = label_dataset(model, loader, out, progress=False, **kwargs)
    assert not m['reused'] and m['hash'] != first['hash'] and model.calls > 0
    why = [msg for msg in logs if 'relabelling' in msg]
    assert len(why) == 1 and key in why[0], logs
    assert plf.read_json(f'{out}/manifest.json')['hash'] == m['hash']


class Killed(Exception):
    pass


def test_killed_labelling_resumes_to_the_same_files(loader, tmp_path, monkeypatch):
    reference = str(tmp_path / 'reference')
    label_dataset(ConvLabelModel(), loader, reference, progress=False)

    out = str(tmp_path / 'labels')
    write = plf.write_pseudo_label
    written = []

    def killed_after_3(label_dir, img_path, labels, weights):
        if len(written) == 3:
            # A kill inside a write leaves a temporary file behind.
            open(osp.join(label_dir, '.tmp-killed.png'), 'wb').write(b'half')
            raise Killed
        written.append(img_path)
        write(label_dir, img_path, labels, weights)
    monkeypatch.setattr(pl, 'write_pseudo_label', killed_after_3)
    model = ConvLabelModel()
    with pytest.raises(Killed):
        label_dataset(model, loader, out, progress=False)
    assert not osp.exists(f'{out}/manifest.json') and osp.isfile(f'{out}/labeler_state.pt')

    monkeypatch.setattr(pl, 'write_pseudo_label', write)
    accumulated = []
    monkeypatch.setattr(type(model.pseudo_labeler), '_accumulate',
                        lambda self, *a, **k: accumulated.append(1))
    model = ConvLabelModel()
    model.pseudo_labeler.thresholds.fill_(0.123)  # the saved state must replace this
    m = label_dataset(model, loader, out, progress=False)
    assert not accumulated  # pass 1 is not redone: its state was saved
    assert m["reused_images"] == 3  # the third image is read back, its batch relabelled
    assert model.calls == 3
    assert files(out) == files(reference)
    assert not [n for n in os.listdir(out) if n.startswith('.tmp-')]
    assert plf.read_json(f'{out}/manifest.json')['stats'] == \
        plf.read_json(f'{reference}/manifest.json')['stats']


def test_a_directory_of_other_files_is_refused(loader, tmp_path):
    out = tmp_path / 'images'
    out.mkdir()
    (out / '000.png').write_bytes(b'not ours')
    with pytest.raises(ValueError, match='no identity.json'):
        label_dataset(ConvLabelModel(), loader, str(out), progress=False)
    assert (out / '000.png').read_bytes() == b'not ours'


def test_tta_labels_differ_and_are_keyed(loader, tmp_path):
    plain = label_dataset(ConvLabelModel(kernel_size=3), loader, str(tmp_path / 'a'),
                          progress=False)
    tta = label_dataset(ConvLabelModel(kernel_size=3), loader, str(tmp_path / 'b'),
                        tta=dict(scales=[0.5, 1.0], flip=True), progress=False)
    assert tta['identity']['tta'] == dict(scales=[0.5, 1.0], fusion='mean', flip=True,
                                          crop_size=None, stride=None)
    assert tta['hash'] != plain['hash']
    assert files(str(tmp_path / 'a')) != files(str(tmp_path / 'b'))


def test_one_pass_labeler_and_errors(loader, tmp_path):
    labeler = MODELS.build(dict(type='ThresholdLabeler', threshold=0.4, weight_mode='pixel'))
    model = ConvLabelModel(labeler=labeler)
    m = label_dataset(model, loader, str(tmp_path / 'a'), progress=False)
    assert m['labeler_state'] == dict(round=0)
    with pytest.raises(RuntimeError, match='needs_statistics is False'):
        labeler.accumulate(torch.rand(1, C, 2, 2))
    with pytest.raises(TypeError, match='teacher_outputs'):
        label_dataset(nn.Identity(), loader, str(tmp_path / 'b'), labeler=labeler)
    with pytest.raises(TypeError, match='pseudo-labeler'):
        label_dataset(model, loader, str(tmp_path / 'b'), labeler=nn.Identity())


def test_weights_sha1_sees_every_tensor():
    a, b = ConvLabelModel(), ConvLabelModel()
    assert pl.weights_sha1(a) == pl.weights_sha1(b)
    b.pseudo_labeler.thresholds.fill_(0.1)
    assert pl.weights_sha1(a) != pl.weights_sha1(b)
    assert pl.weights_sha1(a, exclude=['pseudo_labeler.']) == \
        pl.weights_sha1(b, exclude=['pseudo_labeler.'])
    b.net.weight.data[0, 0, 0, 0] = torch.nextafter(b.net.weight.data[0, 0, 0, 0],
                                                    torch.tensor(1.0))
    assert pl.weights_sha1(a, exclude=['pseudo_labeler.']) != \
        pl.weights_sha1(b, exclude=['pseudo_labeler.'])


def test_without_check_weights_a_complete_directory_of_older_weights_is_reused(loader, tmp_path):
    """A resume in the middle of a round: the model trained since it labelled the round."""
    model = ConvLabelModel()
    out = str(tmp_path / 'labels')
    first = label_dataset(model, loader, out, progress=False)
    model.net.bias.data.add_(0.1)
    model.calls = 0
    m = label_dataset(model, loader, out, check_weights=False, progress=False)
    assert m['reused'] and model.calls == 0 and m['hash'] == first['hash']
    # Anything else that differs still relabels; so does a partial directory.
    m = label_dataset(model, loader, out, check_weights=False, round_idx=1, progress=False)
    assert not m["reused"] and model.calls == 2 * 5  # two passes
    os.remove(f'{out}/manifest.json')
    model.net.bias.data.add_(0.1)
    m = label_dataset(model, loader, out, check_weights=False, round_idx=1, progress=False)
    assert not m['reused'] and m['reused_images'] == 0


def _ddp_worker(rank, world, port, root, out):
    import torch.distributed as torch_dist
    import mmsfda  # noqa: F401
    from mmengine.registry import init_default_scope
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world)
    init_default_scope('mmseg')
    torch.set_num_threads(1)
    loader = Runner.build_dataloader(label_dataloader_cfg(loader_cfg(root)), seed=0)
    model = ConvLabelModel()
    m = label_dataset(model, loader, out, progress=False)
    torch.save(dict(manifest=m, thresholds=model.pseudo_labeler.thresholds),
                osp.join(out, f'.rank{rank}.pt'))
    torch_dist.destroy_process_group()


def test_two_ranks_shard_the_set_and_agree_with_one_process(loader, tmp_path):
    import torch.multiprocessing as mp
    single = str(tmp_path / 'single')
    ref = label_dataset(ConvLabelModel(), loader, single, progress=False)
    out = str(tmp_path / 'ddp')
    port = free_port()
    mp.spawn(_ddp_worker, args=(2, port, loader.dataset.data_root, out), nprocs=2)
    results = [torch.load(osp.join(out, f'.rank{r}.pt'), weights_only=False) for r in range(2)]
    for r in results:
        # Statistics summed over the shards: the same thresholds as one process.
        assert torch.equal(r['thresholds'], ref_thresholds(single))
    m = plf.read_json(osp.join(out, 'manifest.json'))
    assert m['images_per_rank'] == [3, 2] and m['hash'] == ref['hash']
    assert m['stats'] == ref['stats']
    assert files(out) == files(single)


def ref_thresholds(out):
    return plf.load_state(osp.join(out, 'labeler_state.pt'))['thresholds']


def test_target_ground_truth_is_read_only_when_the_model_allows_it(loader, tmp_path):
    """The loader provides target labels, but without the diagnostics switch labelling ignores
    them: no accuracy in the manifest."""
    model = ConvLabelModel()
    m = label_dataset(model, loader, str(tmp_path / 'labels'), progress=False)
    assert m['stats']['accuracy'] is None and 0.3 < m['stats']['coverage'] < 0.7
