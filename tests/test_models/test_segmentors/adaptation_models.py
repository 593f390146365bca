"""Small models and batches shared by the engine-v2 segmentor tests (and their DDP worker)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmsfda.models.segmentors import BaseAdaptationSegmentor

NUM_CLASSES = 4
SHAPE = (32, 64)


def student_cfg(repo, frozen_norm=False):
    cfg = Config.fromfile(f'{repo}/configs/_base_/models/deeplabv2_r18-tiny.py').model
    cfg['decode_head']['num_classes'] = NUM_CLASSES
    cfg['data_preprocessor']['size'] = SHAPE
    if frozen_norm:
        cfg['backbone']['norm_cfg'] = dict(type='BN', requires_grad=False)
    return cfg


def batch(n=2, shape=SHAPE, with_gt=True, seed=0):
    """An mmseg data batch of ``n`` random uint8 images [3, H, W], with random labels if asked."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, *shape), generator=g, dtype=torch.uint8))
        s = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        if with_gt:
            s.gt_sem_seg = PixelData(data=torch.randint(0, NUM_CLASSES, (1, *shape), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def uda_batch(seed=0):
    """A DomainPairDataset batch: ``{'source': {inputs, data_samples}, 'target': {...}}``."""
    return dict(source=batch(seed=2 * seed + 1), target=batch(seed=2 * seed + 2))


@MODELS.register_module()
class TinyDiscriminator(nn.Module):
    """[B, C, H, W] probabilities -> [B, 1, h, w] domain logits (a test stand-in for AdvEnt's)."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(num_classes, 8, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(8, 1, 4, 2, 1))

    def forward(self, probs):
        return self.net(probs)


@MODELS.register_module()
class ToyAdversarialSegmentor(BaseAdaptationSegmentor):
    """Output-space adversarial adaptation written as the base class asks: two optimiser steps.

    Step 'loss': source CE + target entropy + ``lambda`` x BCE(D(target probs), source label).
    Step 'discriminator_loss': BCE of D on detached source (label 0) and target (label 1) probs.
    """
    optim_steps = (('student', 'loss'), ('discriminator', 'discriminator_loss'))

    def __init__(self, lambda_adv=0.1, **kwargs):
        super().__init__(aux=dict(discriminator=dict(type='TinyDiscriminator')), **kwargs)
        self.lambda_adv = lambda_adv

    def target_loss(self, outputs, pseudo_labels, target):
        losses = super().target_loss(outputs, pseudo_labels, target)
        d_out = self.aux['discriminator'](outputs.logits.softmax(1))
        losses['loss_adv'] = self.lambda_adv * F.binary_cross_entropy_with_logits(
            d_out, torch.zeros_like(d_out))
        return losses

    def discriminator_loss(self, inputs, data_samples):
        with torch.no_grad():
            src = self.student_forward(inputs['source']).logits.softmax(1)
            tgt = self.student_forward(inputs['target']).logits.softmax(1)
        d_src, d_tgt = self.aux['discriminator'](src), self.aux['discriminator'](tgt)
        return dict(loss_d=F.binary_cross_entropy_with_logits(d_src, torch.zeros_like(d_src)) +
                    F.binary_cross_entropy_with_logits(d_tgt, torch.ones_like(d_tgt)))


def adversarial_cfg(repo):
    return dict(type='ToyAdversarialSegmentor', setting='uda', student=student_cfg(repo),
                target_losses=[dict(type='EntropyLoss')])


def multi_optim_cfg():
    return dict(constructor='MultiOptimWrapperConstructor',
                student=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
                discriminator=dict(type='OptimWrapper', module='aux.discriminator',
                                   optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.99))))


def dacs_cfg(repo, **kwargs):
    return dict(type='SelfTrainingSegmentor', setting='uda', teacher=True,
                student=student_cfg(repo),
                pseudo_labeler=dict(type='ThresholdLabeler', threshold=0.5, weight_mode='dacs'),
                mixer=dict(type='ClassMix'), target_losses=[dict(type='PseudoLabelCELoss')],
                **kwargs)
