"""HRDA (HRDAEncoderDecoder + HRDAHead) on a tiny MiT: crop geometry, fusion by hand, detail loss
weight, sliding inference, pseudo-label margins, plain-checkpoint loading, the DAFormer / MIC step
with an HRDA student."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.registry import MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from mmsfda.models.heads.hrda_head import fuse_scales
from mmsfda.models.pseudo_labelers import PseudoLabels
from mmsfda.models.segmentors import Branch, LogitView, StudentOutputs, crop_pseudo_labels
from mmsfda.models.segmentors.hrda_encoder_decoder import random_crop_box, sliding_boxes
from test_models.test_segmentors import adaptation_models as am

DETAIL = (16, 32)  # half of am.SHAPE (32, 64) per side, as 512 of HRDA's 1024


def tiny_head():
    return dict(type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
                channels=16, embed_dims=16, num_classes=am.NUM_CLASSES, dropout_ratio=0.1,
                norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))


def tiny_hrda_student(**kwargs):
    cfg = dict(
        type='HRDAEncoderDecoder', context_scale=0.5, detail_crop_size=DETAIL,
        crop_coord_divisible=8,
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size=am.SHAPE),
        # sr_ratios small enough for the 16x32 context view
        backbone=dict(type='MixVisionTransformer', embed_dims=8, num_layers=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], sr_ratios=[4, 2, 1, 1]),
        decode_head=dict(type='HRDAHead', head=tiny_head(), attention_embed_dims=16,
                         detail_loss_weight=0.1),
        train_cfg=dict(), test_cfg=ConfigDict(mode='whole'))
    cfg.update(kwargs)
    return cfg


def build_student(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrda_student(**kwargs))
    model.init_weights()
    return model


def build_uda(type='DAFormerSegmentor', **kwargs):
    cfg = dict(type=type, setting='uda', teacher=True, student=tiny_hrda_student(),
               pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.0, weight_mode='dacs'),
               mixer=dict(type='ClassMix'), strong_augment=dict(type='StrongAugment'),
               target_losses=[dict(type='PseudoLabelCELoss')],
               feature_distance=dict(type='FeatureDistanceLoss', thing_classes=[1, 2]))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_crop_boxes_fall_on_the_grid_inside_the_image():
    g = torch.Generator().manual_seed(0)
    boxes = {random_crop_box((1024, 1024), (512, 512), 8, generator=g) for _ in range(200)}
    for y1, y2, x1, x2 in boxes:
        assert y2 - y1 == 512 and x2 - x1 == 512 and 0 <= y1 and y2 <= 1024 and x2 <= 1024
        assert y1 % 8 == 0 and x1 % 8 == 0
    assert len(boxes) > 100  # random, not fixed
    assert {b[0] for b in boxes} >= {0, 512} - {0} or max(b[0] for b in boxes) <= 512
    assert random_crop_box((64, 64), (128, 32), 8, generator=g)[:2] == (0, 64)  # clipped
    # Overlapping windows (stride half the window) cover the image, the last one moved inside.
    assert sliding_boxes((32, 64), (16, 32), (8, 16)) == [
        (y, y + 16, x, x + 32) for y in (0, 8, 16) for x in (0, 16, 32)]
    assert sliding_boxes((20, 32), (16, 32), (16, 32)) == [(0, 16, 0, 32), (4, 20, 0, 32)]


def test_context_and_detail_views():
    """Context: the whole input downscaled by 0.5; detail: the crop of the full-resolution input."""
    model = build_student()
    seen = []
    model._features = lambda img, f=model._features: seen.append(img) or f(img)
    img = torch.randn(2, 3, *am.SHAPE)
    logits, box, context_img, _ = model.forward_train_scales(img, box=(8, 24, 16, 48))
    assert box == (8, 24, 16, 48)
    expected_context = F.interpolate(img, size=(16, 32), mode='bilinear', align_corners=False)
    assert torch.allclose(seen[0], expected_context) and torch.equal(context_img, seen[0])
    assert torch.equal(seen[1], img[:, :, 8:24, 16:48])
    # Decoder output stride 4: context 4x8, detail 4x8, fused on the full input's 8x16 grid.
    assert logits.context.shape == (2, am.NUM_CLASSES, 4, 8)
    assert logits.detail.shape == (2, am.NUM_CLASSES, 4, 8)
    assert logits.fused.shape == (2, am.NUM_CLASSES, 8, 16)
    with pytest.raises(ValueError, match='decoder grid'):
        model.forward_train_scales(img, box=(2, 18, 16, 48))  # not on the output-stride grid


def test_fusion_by_hand():
    """Constant maps: the masked attention is a on the context column of the detail region and 0
    elsewhere; bilinear upsampling x2 (align_corners=False) blurs it to a, 3a/4, a/4, 0."""
    a, c, d = 0.6, 2.0, -1.0
    context = torch.full((1, 1, 2, 2), c)
    attention = torch.full((1, 1, 2, 2), a)
    detail = torch.full((1, 1, 4, 2), d)  # the left half of the 4x4 fused grid
    fused = fuse_scales(context, detail, attention, ratio=2, box=(0, 4, 0, 2))
    att = [a, 0.75 * a, 0.25 * a, 0.0]
    inserted = [d, d, 0.0, 0.0]
    expected = torch.tensor([w * x + (1 - w) * c for w, x in zip(att, inserted)])
    assert torch.allclose(fused[0, 0], expected.expand(4, 4), atol=1e-6)
    # Without a box (inference) the detail covers everything: a * d + (1 - a) * c.
    full = fuse_scales(context, torch.full((1, 1, 4, 4), d), attention, ratio=2)
    assert torch.allclose(full, torch.full((1, 1, 4, 4), a * d + (1 - a) * c))
    with pytest.raises(ValueError, match='divisible'):
        fuse_scales(context, detail[..., :1], attention, ratio=2, box=(0, 4, 1, 2))


def test_attention_is_classwise_sigmoid_of_the_context_features():
    model = build_student()
    feats = model.extract_feat(torch.randn(2, 3, *am.SHAPE))
    att = model.decode_head.attention(feats)
    assert att.shape == (2, am.NUM_CLASSES, 4, 8) and (att > 0).all() and (att < 1).all()
    fusion = model.decode_head.scale_attention.fusion  # HRDA: a 1x1 conv fusion
    assert fusion.conv.kernel_size == (1, 1)
    one = build_student(decode_head=dict(type='HRDAHead', head=tiny_head(),
                                         attention_classwise=False, attention_embed_dims=16))
    assert one.decode_head.attention(feats).shape == (2, 1, 4, 8)


def test_detail_loss_weight():
    """loss = 0.9 x CE(fused, labels) + 0.1 x CE(detail, labels cropped to the detail box)."""
    model = build_student()
    img = torch.randn(2, 3, *am.SHAPE)
    labels = torch.randint(0, am.NUM_CLASSES, (2, *am.SHAPE))
    samples = [SegDataSample(gt_sem_seg=PixelData(data=l[None])) for l in labels]
    box = (8, 24, 0, 32)
    logits, _, _, _ = model.forward_train_scales(img, box=box)
    losses = model.decode_head.loss_by_scales(logits, samples, box)

    def ce(x, y):
        return F.cross_entropy(F.interpolate(x, size=y.shape[1:], mode='bilinear'), y)

    assert torch.allclose(losses['loss_ce'], 0.9 * ce(logits.fused, labels), atol=1e-5)
    assert torch.allclose(losses['detail.loss_ce'],
                          0.1 * ce(logits.detail, labels[:, 8:24, 0:32]), atol=1e-5)
    assert 'context.loss_ce' not in losses
    ctx = build_student(decode_head=dict(type='HRDAHead', head=tiny_head(),
                                         attention_embed_dims=16, detail_loss_weight=0.1,
                                         context_loss_weight=0.2))
    logits, _, _, _ = ctx.forward_train_scales(img, box=box)
    losses = ctx.decode_head.loss_by_scales(logits, samples, box)
    assert torch.allclose(losses['loss_ce'], 0.7 * ce(logits.fused, labels), atol=1e-5)
    assert torch.allclose(losses['context.loss_ce'], 0.2 * ce(logits.context, labels), atol=1e-5)
    with pytest.raises(ValueError, match='sum to less than 1'):
        build_student(decode_head=dict(type='HRDAHead', head=tiny_head(), detail_loss_weight=1.0))
    # The student's own mmseg loss (source images) has both terms.
    assert {'decode.loss_ce', 'decode.detail.loss_ce'} <= set(model.loss(img, samples))


def test_target_losses_on_the_views():
    """Target losses: fused x loss_weight, each view with the pseudo-labels cropped to its box."""
    model = build_uda()
    logits = torch.randn(2, am.NUM_CLASSES, *am.SHAPE)
    view_logits = torch.randn(2, am.NUM_CLASSES, 16, 32)
    labels = torch.randint(0, am.NUM_CLASSES, (2, *am.SHAPE))
    weights = torch.rand(2, *am.SHAPE)
    pl = PseudoLabels(labels, weights, extras=dict(mix_mask=torch.ones(2, 1, *am.SHAPE)))
    outputs = StudentOutputs(logits, logits, (), views=(
        LogitView('detail', view_logits, (8, 24, 32, 64), 0.1),), loss_weight=0.9)
    losses = model.target_loss(outputs, pl, Branch(None, []))

    def wce(x, y, w):
        return (w * F.cross_entropy(x, y, reduction='none')).mean()

    assert torch.allclose(losses['loss_pl_ce'], 0.9 * wce(logits, labels, weights))
    assert torch.allclose(losses['detail.loss_pl_ce'], 0.1 * wce(
        view_logits, labels[:, 8:24, 32:], weights[:, 8:24, 32:]))
    cropped = crop_pseudo_labels(pl, (8, 24, 32, 64))
    assert cropped.extras['mix_mask'].shape == (2, 1, 16, 32)


def test_sliding_detail_inference():
    """One window covering the image equals decoding the whole image; tiled windows equal the
    decodes of their crops; overlapping windows are averaged."""
    model = build_student().eval()
    img = torch.randn(2, 3, *am.SHAPE)
    head = model.decode_head.head
    with torch.no_grad():
        whole = build_student(detail_crop_size=am.SHAPE).eval()
        assert torch.allclose(whole.detail_logits(img), head(model._features(img)), atol=1e-5)
        ctx = model.extract_feat(img)
        fused = fuse_scales(head(ctx), head(model._features(img)),
                            model.decode_head.attention(ctx), 2)
        assert torch.allclose(whole.encode_decode(img), F.interpolate(
            fused, size=am.SHAPE, mode='bilinear'), atol=1e-5)

        tiled = build_student(detail_slide_overlapping=False).eval()
        out = tiled.detail_logits(img)  # [2, C, 8, 16]: four 4x8 windows
        for y1, y2, x1, x2 in sliding_boxes(am.SHAPE, DETAIL, DETAIL):
            crop = head(model._features(img[:, :, y1:y2, x1:x2]))
            assert torch.allclose(out[:, :, y1 // 4:y2 // 4, x1 // 4:x2 // 4], crop, atol=1e-5)

        over = model.detail_logits(img)  # stride 8x16: the row 8..16 lies in windows 0 and 8
        a = head(model._features(img[:, :, 0:16, 0:32]))
        b = head(model._features(img[:, :, 8:24, 0:32]))
        assert torch.allclose(over[:, :, 0:2, 0:4], a[:, :, 0:2, 0:4], atol=1e-5)
        region = over[:, :, 2:4, 0:4]  # y 8..16, x 0..16: windows (0,0) and (8,0) only
        assert torch.allclose(region, (a[:, :, 2:4, 0:4] + b[:, :, 0:2, 0:4]) / 2, atol=1e-5)
        # Predictions through mmseg's API use the same inference.
        pred = model.predict(img, [SegDataSample(metainfo=dict(
            img_shape=am.SHAPE, ori_shape=am.SHAPE, pad_shape=am.SHAPE)) for _ in range(2)])
        assert torch.allclose(pred[0].seg_logits.data, model.encode_decode(img)[0], atol=1e-5)


def test_pseudo_label_margins_are_made_before_the_crop():
    margins = TRANSFORMS.build(dict(type='PseudoLabelMargins', margins=(3, 5, 2, 1)))
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(8, 8)))
    pack = TRANSFORMS.build(dict(type='PackSegInputsWithWeights'))
    results = margins(dict(img=np.zeros((20, 30, 3), np.uint8)))
    mask = results['valid_pseudo_mask']
    assert mask[:3].sum() == 0 and mask[-5:].sum() == 0 and mask[:, :2].sum() == 0
    assert mask[:, -1:].sum() == 0 and mask[3:15, 2:29].all()
    # A crop from the middle keeps every pixel; one at the top loses the top rows only.
    crop.crop_bbox = lambda results: (6, 14, 10, 18)  # (y1, y2, x1, x2) as mmseg's crop()
    middle = crop(copy.deepcopy(results))
    assert middle['valid_pseudo_mask'].all()
    crop.crop_bbox = lambda results: (0, 8, 10, 18)
    top = crop(copy.deepcopy(results))
    assert top['valid_pseudo_mask'][:3].sum() == 0 and top['valid_pseudo_mask'][3:].all()
    packed = pack(top)
    assert packed['data_samples'].valid_pseudo_mask.data.shape == (1, 8, 8)
    with pytest.raises(ValueError, match='margins'):
        TRANSFORMS.build(dict(type='PseudoLabelMargins', margins=(1, 2, 3)))


def test_loader_margins_reach_the_labeler():
    """valid_pseudo_mask of the target samples: label 255, weight 0 there (padding too)."""
    model = build_uda().train()
    batch = am.uda_batch()
    for s in batch['target']['data_samples']:
        m = torch.ones(1, 24, 64, dtype=torch.uint8)  # smaller: the preprocessor pads it with 0
        m[:, :4] = 0
        s.valid_pseudo_mask = PixelData(data=m)
        s.set_metainfo(dict(img_shape=(24, 64)))
    batch['target']['inputs'] = [i[:, :24] for i in batch['target']['inputs']]
    data = model.data_preprocessor(batch, True)
    target = Branch(data['inputs']['target'], data['data_samples']['target'])
    assert target.img.shape[2:] == am.SHAPE
    pl = model.pseudo_labels(target)
    assert (pl.labels[:, :4] == 255).all() and (pl.weights[:, :4] == 0).all()
    assert (pl.labels[:, 24:] == 255).all() and (pl.labels[:, 4:24] != 255).all()


def test_teacher_labels_with_the_sliding_inference():
    model = build_uda().train()
    img = torch.randn(2, 3, *am.SHAPE)
    probs, context = model.teacher_outputs(img)
    teacher = copy.deepcopy(model.teacher).train()
    teacher.decode_head.head.dropout.eval()
    teacher.decode_head.scale_attention.dropout.eval()
    with torch.no_grad():
        expected = teacher.encode_decode(img).softmax(1)
    assert context == {} and torch.allclose(probs, expected, atol=1e-5)
    assert model.teacher.training and model.teacher.decode_head.head.dropout.training


def test_a_single_scale_checkpoint_fills_the_decoder():
    """A plain DAFormer source model adapts with HRDA: decode_head.* -> decode_head.head.*."""
    torch.manual_seed(1)
    plain_cfg = dict(tiny_hrda_student(), type='EncoderDecoder', decode_head=tiny_head())
    for k in ('context_scale', 'detail_crop_size', 'crop_coord_divisible'):
        plain_cfg.pop(k)
    plain = MODELS.build(plain_cfg)
    plain.init_weights()
    model = build_uda()
    attention = copy.deepcopy(model.student.decode_head.scale_attention.state_dict())
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(model, copy.deepcopy(plain.state_dict()))
    for net in (model.student, model.teacher):
        for k, v in plain.decode_head.state_dict().items():
            assert torch.equal(net.decode_head.head.state_dict()[k], v), k
    for k, v in attention.items():  # not in the checkpoint: kept
        assert torch.equal(model.student.decode_head.scale_attention.state_dict()[k], v)
    own = copy.deepcopy(model.state_dict())  # an HRDA checkpoint loads as it is
    model.load_state_dict(own)


def test_daformer_and_mic_steps_with_an_hrda_student():
    """One train step: the detail view gets its own target loss, the feature distance compares the
    context features with the ImageNet copy on the same downscaled image, every trainable student
    parameter (scale attention included) gets a gradient."""
    from mmengine.optim import build_optim_wrapper

    for type, extra in (('DAFormerSegmentor', {}), ('MICSegmentor', dict(
            masking=dict(type='PatchMasking', patch_size=8), mask_loss_weight=1.0))):
        model = build_uda(type=type, **extra)
        seen = {}
        fd = model.feature_distance.forward

        def spy(feat, ref, *args):
            seen['feat'], seen['ref'] = feat, ref
            return fd(feat, ref, *args)

        model.feature_distance.forward = spy
        ow = build_optim_wrapper(model, dict(type='OptimWrapper',
                                             optimizer=dict(type='SGD', lr=0.1)))
        log_vars = model.train_step(am.uda_batch(), ow)  # runs (early source backward included)
        ow.zero_grad()
        data = model.data_preprocessor(am.uda_batch(seed=1), True)
        model.parse_losses(model(**data, mode='loss'))[0].backward()
        keys = {'src.decode.loss_ce', 'src.decode.detail.loss_ce', 'src.loss_imnet_fd',
                'tgt.loss_pl_ce', 'tgt.detail.loss_pl_ce'}
        if type == 'MICSegmentor':
            keys |= {'tgt.masked.loss_pl_ce', 'tgt.masked.detail.loss_pl_ce'}
        assert keys <= set(log_vars), sorted(log_vars)
        src = data['inputs']['source']
        with torch.no_grad():
            ref = model.aux['imnet'](F.interpolate(src, size=(16, 32), mode='bilinear'))[-1]
        assert torch.allclose(seen['ref'], ref, atol=1e-5)  # the context view, as the student's
        assert seen['feat'].shape == ref.shape
        no_grad = [n for n, p in model.student.named_parameters()
                   if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
        assert not no_grad, no_grad
