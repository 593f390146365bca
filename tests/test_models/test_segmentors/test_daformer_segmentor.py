"""DAFormer (DAFormerHead, feature distance to a frozen ImageNet copy) and MIC on a tiny MiT."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from test_models.test_segmentors import adaptation_models as am


def tiny_mit_student():
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size=am.SHAPE),
        backbone=dict(type='MixVisionTransformer', embed_dims=8, num_layers=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], sr_ratios=[8, 4, 2, 1]),
        decode_head=dict(type='DAFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
                         channels=16, embed_dims=16, num_classes=am.NUM_CLASSES,
                         dropout_ratio=0.1, norm_cfg=dict(type='BN', requires_grad=True),
                         align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


def build(type='DAFormerSegmentor', **kwargs):
    cfg = dict(type=type, setting='uda', teacher=True, student=tiny_mit_student(),
               pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.968, weight_mode='dacs'),
               mixer=dict(type='ClassMix'), strong_augment=dict(type='StrongAugment'),
               target_losses=[dict(type='PseudoLabelCELoss')],
               feature_distance=dict(type='FeatureDistanceLoss', thing_classes=[1, 2]))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_daformer_head_shapes_and_features():
    head = build().student.decode_head
    feats = [torch.rand(2, c, 8 // 2 ** i, 16 // 2 ** i) for i, c in enumerate([8, 16, 32, 64])]
    assert head(feats).shape == (2, am.NUM_CLASSES, 8, 16)
    assert head._forward_feature(feats).shape == (2, 16, 8, 16)
    branches = head.fusion.branches
    assert len(branches) == 4 and branches[0].conv.kernel_size == (1, 1)
    assert [b.depthwise_conv.conv.dilation for b in branches[1:]] == [(6, 6), (12, 12), (18, 18)]


def test_imnet_copy_is_frozen_in_eval_and_in_checkpoints():
    torch.manual_seed(0)
    model = build()
    imnet = model.aux['imnet']
    for k, v in model.student.backbone.state_dict().items():
        assert torch.equal(imnet.state_dict()[k], v)
    model.train()
    assert not imnet.training and not any(p.requires_grad for p in imnet.parameters())
    assert any(k.startswith('aux.imnet.') for k in model.state_dict())
    ow = build_optim_wrapper(model, dict(type='OptimWrapper',
                                         optimizer=dict(type='SGD', lr=0.1)))
    before = copy.deepcopy(imnet.state_dict())
    log_vars = model.train_step(am.uda_batch(), ow)
    assert 'src.loss_imnet_fd' in log_vars and 'tgt.loss_pl_ce' in log_vars
    assert all(torch.equal(before[k], v) for k, v in imnet.state_dict().items())
    # The student moved away from the ImageNet copy: the distance is now positive.
    data = model.data_preprocessor(am.uda_batch(seed=1), True)
    losses = model(**data, mode='loss')
    assert losses['src.loss_imnet_fd'] >= 0 and torch.isfinite(losses['src.loss_imnet_fd'])


def test_feature_distance_needs_source():
    with pytest.raises(ValueError, match='uda'):
        build(setting='sfda', mixer=None, teacher=None)


def test_patch_masking_drops_whole_patches():
    masking = MODELS.build(dict(type='PatchMasking', patch_size=4, mask_ratio=0.7))
    torch.manual_seed(0)
    m = masking.mask((64, 1, 32, 64))
    assert m.shape == (64, 1, 32, 64)
    blocks = m.unfold(2, 4, 4).unfold(3, 4, 4)  # every 4x4 patch is all 0 or all 1
    assert ((blocks.amin((-1, -2)) == blocks.amax((-1, -2)))).all()
    assert abs(1 - m.mean().item() - 0.7) < 0.05
    with pytest.raises(ValueError, match='mask_ratio'):
        MODELS.build(dict(type='PatchMasking', mask_ratio=1.0))


def test_mic_adds_the_masked_view_with_the_same_pseudo_labels():
    torch.manual_seed(0)
    model = build(type='MICSegmentor', masking=dict(type='PatchMasking', patch_size=8),
                  mask_loss_weight=1.0,
                  pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.0, weight_mode='dacs'))
    data = model.data_preprocessor(am.uda_batch(), True)
    losses = model(**data, mode='loss')
    assert {'src.loss_imnet_fd', 'tgt.loss_pl_ce', 'tgt.masked.loss_pl_ce'} <= set(losses)
    assert losses['tgt.masked.loss_pl_ce'] > 0 and model._unmixed is None


def test_a_plain_start_checkpoint_becomes_the_reference():
    torch.manual_seed(1)
    plain = MODELS.build(tiny_mit_student())
    plain.init_weights()
    model = build()
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(model, copy.deepcopy(plain.state_dict()))
    for k, v in plain.backbone.state_dict().items():
        assert torch.equal(model.aux['imnet'].state_dict()[k], v)
        assert torch.equal(model.student.backbone.state_dict()[k], v)
    # A checkpoint of the model itself keeps its own reference.
    own = copy.deepcopy(model.state_dict())
    own['aux.imnet.layers.0.0.projection.weight'].zero_()
    model.load_state_dict(own)
    assert model.aux['imnet'].layers[0][0].projection.weight.abs().sum() == 0


def test_one_iteration_by_hand():
    """The porting risks of DAFormer, checked on one step against values computed by hand: the
    teacher labels with batch-statistics BN and no dropout, one scalar pseudo-weight per batch, the
    ClassMix mask on labels and weights, the thing-class FD mask and value, the mixed CE over all
    pixels."""
    import torch.nn.functional as F

    from mmsfda.models.losses.feature_distance_loss import downscale_label_ratio
    from mmsfda.models.segmentors import stack_labels

    seen = {}

    class Spy(MODELS.get('DAFormerSegmentor')):
        def student_view(self, source, target, pseudo_labels):
            seen['pl'], seen['source'], seen['target'] = pseudo_labels, source, target
            view = super().student_view(source, target, pseudo_labels)
            seen['view'] = view
            return view

        def target_loss(self, outputs, pseudo_labels, target):
            seen['outputs'] = outputs
            return super().target_loss(outputs, pseudo_labels, target)

    torch.manual_seed(0)
    cfg = dict(setting='uda', teacher=True, student=tiny_mit_student(),
               pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.3, weight_mode='dacs'),
               mixer=dict(type='ClassMix', batch_unique=True),
               target_losses=[dict(type='PseudoLabelCELoss')],
               feature_distance=dict(type='FeatureDistanceLoss', thing_classes=[1, 2]))
    model = Spy(**cfg)
    model.init_weights()
    with torch.no_grad():  # the student moves away from the ImageNet copy and the teacher
        for p in model.student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.train()
    batch = am.uda_batch()
    from mmengine.structures import PixelData
    for i, sample in enumerate(batch['source']['data_samples']):  # blocks, so some FD block counts
        label = torch.zeros(1, *am.SHAPE, dtype=torch.long)
        label[:, :, :am.SHAPE[1] // 2] = 1 + i  # a thing class (1 or 2) on the left half
        sample.gt_sem_seg = PixelData(data=label)
    data = model.data_preprocessor(batch, True)
    src_img, tgt_img = data['inputs']['source'], data['inputs']['target']
    teacher = copy.deepcopy(model.teacher)
    bn_before = model.teacher.decode_head.fusion.bottleneck.bn.running_mean.clone()
    losses = model(**data, mode='loss')

    # 1. Teacher: train-mode BN (its running statistics move), dropout off (deterministic).
    teacher.train()
    teacher.decode_head.dropout.eval()
    with torch.no_grad():
        probs = F.interpolate(teacher.decode_head(teacher.extract_feat(tgt_img)),
                              size=tgt_img.shape[2:], mode='bilinear').softmax(1)
    assert torch.allclose(seen['pl'].probs, probs, atol=1e-5)
    assert not torch.equal(model.teacher.decode_head.fusion.bottleneck.bn.running_mean, bn_before)
    # 2. One scalar weight for the batch: the share of pixels whose confidence passes 0.3.
    weight = (probs.max(1).values >= 0.3).float().mean()
    assert torch.allclose(seen['pl'].weights, weight.expand_as(seen['pl'].weights))
    # 3. ClassMix: pasted source pixels carry the source label and weight 1.
    mask = seen['view'].pseudo_labels.extras['mix_mask'][:, 0].bool()
    src_labels = stack_labels(seen['source'].samples)
    expected_labels = torch.where(mask, src_labels, probs.argmax(1))
    assert torch.equal(seen['view'].pseudo_labels.labels, expected_labels)
    expected_w = torch.where(mask, torch.ones_like(seen['pl'].weights), seen['pl'].weights)
    assert torch.allclose(seen['view'].pseudo_labels.weights, expected_w)
    assert torch.allclose(seen['view'].img, torch.where(mask[:, None], src_img, tgt_img))
    # 4. Mixed CE: weighted per-pixel CE over all B*H*W pixels.
    ce = F.cross_entropy(seen['outputs'].logits, expected_labels, reduction='none')
    assert torch.allclose(losses['tgt.loss_pl_ce'], (expected_w * ce).mean(), atol=1e-5)
    # 5. Feature distance: last backbone level, thing-class blocks only, 0.005 x mean L2.
    with torch.no_grad():
        f_s = model.student.backbone(src_img)[-1]
        f_i = model.aux['imnet'](src_img)[-1]
    small = downscale_label_ratio(src_labels, f_s.shape[2:], 0.75, am.NUM_CLASSES)
    things = (small == 1) | (small == 2)
    dist = torch.norm(f_s - f_i, dim=1)
    assert things.any() and not things.all()
    expected_fd = 0.005 * dist[things].mean()
    assert torch.allclose(losses['src.loss_imnet_fd'], expected_fd, atol=1e-6)
