"""MUNITLite: DiGA's source <-> target image translator (the learned translated view).

DiGA (Shen et al., CVPR 2023, arXiv:2304.02222, Sec. 3.2) renders each source image in the
target style, ``x_tr = dec_t(enc_s(x_s))``, for its cross-domain mixture; its public code trains
the translator first (``train_domain_translator.py``, 50k iterations). It is MUNIT's architecture
(Huang et al., ECCV 2018) without the style code: the domain sits in the choice of decoder.

* per domain a content encoder (7x7 conv, ``num_downsample`` stride-2 4x4 convs doubling the
  width, ``num_res_blocks`` residual blocks; instance norm, ReLU, reflect padding) and a decoder
  (residual blocks, ``num_downsample`` x2 nearest upsampling + 5x5 conv stages, 7x7 conv, tanh);
* per domain a multi-scale LS-GAN discriminator (``num_scales`` inputs, each half the previous,
  ``num_layers`` stride-2 4x4 convs with leaky ReLU, a 1x1 conv to one channel).

Losses of the generator step (weights of the issue / DiGA's code; configs/diga/README.md):

* adversarial LS-GAN, both directions, 0.5;
* cycle L1, ``x_s -> t -> s`` and ``x_t -> s -> t``, 10;
* semantic-edge L1 on the Laplacian edges of the source label between ``s2t`` and ``x_s``, 20
  (:class:`SemanticEdgeL1Loss`);
* self-reconstruction L1 within each domain, ``dec_s(enc_s(x_s))`` and ``dec_t(enc_t(x_t))``,
  0.001;
* optional VGG19 perceptual L1 (translated vs original, both directions), 0.1, only when weights
  are given (:class:`VGGPerceptualLoss`).

Images are RGB in [-1, 1] (the training config's preprocessor: mean = std = 127.5).
"""
from contextlib import contextmanager
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from torch import Tensor

from ..losses.gan_loss import gan_loss

DOMAINS = ('source', 'target')


def conv_block(cin: int, cout: int, k: int, stride: int = 1, norm: bool = True,
               act: Optional[nn.Module] = None) -> nn.Sequential:
    """Reflect-padded conv, optional instance norm (no affine, as MUNIT), activation."""
    layers = [nn.ReflectionPad2d((k - 1) // 2 if stride == 1 else 1),
              nn.Conv2d(cin, cout, k, stride, bias=True)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout))
    layers.append(act if act is not None else nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``, 3x3 reflect-padded convs, [B, C, H, W] -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_block(channels, channels, 3),
                                  conv_block(channels, channels, 3, act=nn.Identity()))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ContentEncoder(nn.Module):
    """[B, in_channels, H, W] -> content [B, base * 2^num_downsample, H / 2^n, W / 2^n]."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_downsample: int = 2,
                 num_res_blocks: int = 4):
        super().__init__()
        layers, c = [conv_block(in_channels, base_channels, 7)], base_channels
        for _ in range(num_downsample):
            layers.append(conv_block(c, 2 * c, 4, stride=2))
            c *= 2
        layers += [ResBlock(c) for _ in range(num_res_blocks)]
        self.model = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class Decoder(nn.Module):
    """Content [B, base * 2^n, h, w] -> image [B, in_channels, h * 2^n, w * 2^n] in [-1, 1]."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_downsample: int = 2,
                 num_res_blocks: int = 4):
        super().__init__()
        c = base_channels * 2 ** num_downsample
        layers = [ResBlock(c) for _ in range(num_res_blocks)]
        for _ in range(num_downsample):
            layers += [nn.Upsample(scale_factor=2, mode='nearest'), conv_block(c, c // 2, 5)]
            c //= 2
        layers.append(conv_block(c, in_channels, 7, norm=False, act=nn.Tanh()))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class MultiScaleDiscriminator(nn.Module):
    """LS-GAN discriminators on ``num_scales`` scales of the image (3x3 average pooling, stride
    2, between scales). forward: [B, C, H, W] -> list of [B, 1, h_k, w_k] raw outputs."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 4,
                 num_scales: int = 3):
        super().__init__()
        self.nets = nn.ModuleList()
        for _ in range(num_scales):
            layers, c = [], in_channels
            for i in range(num_layers):
                out = base_channels * 2 ** i
                layers.append(conv_block(c, out, 4, stride=2, norm=False,
                                         act=nn.LeakyReLU(0.2, inplace=True)))
                c = out
            layers.append(nn.Conv2d(c, 1, 1))
            self.nets.append(nn.Sequential(*layers))
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor):
        outs = []
        for i, net in enumerate(self.nets):
            if i:
                x = self.down(x)
            outs.append(net(x))
        return outs


class MUNITLiteGenerator(nn.Module):
    """Both domains' content encoders and decoders (``encoders[d]``, ``decoders[d]``).

    Args:
        in_channels (int): Image channels. Defaults to 3.
        base_channels (int): Width of the first conv. Defaults to 64 (DiGA).
        num_downsample (int): Stride-2 stages. Defaults to 2 (DiGA).
        num_res_blocks (int): Residual blocks in each encoder and decoder. Defaults to 4 (DiGA).
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_downsample: int = 2,
                 num_res_blocks: int = 4):
        super().__init__()
        arch = dict(in_channels=in_channels, base_channels=base_channels,
                    num_downsample=num_downsample, num_res_blocks=num_res_blocks)
        self.encoders = nn.ModuleDict({d: ContentEncoder(**arch) for d in DOMAINS})
        self.decoders = nn.ModuleDict({d: Decoder(**arch) for d in DOMAINS})

    def translate(self, x: Tensor, src: str, dst: str) -> Tensor:
        """[B, C, H, W] images of domain ``src`` rendered in domain ``dst``, same shape (H and W
        divisible by 2^num_downsample)."""
        return self.decoders[dst](self.encoders[src](x))


def lsgan_generator_loss(outputs: Sequence[Tensor]) -> Tensor:
    """Sum over scales of ``mean((D(fake) - 1)^2)``."""
    return sum(gan_loss(o, 1.0, 'lsgan') for o in outputs)


def lsgan_discriminator_loss(real: Sequence[Tensor], fake: Sequence[Tensor]) -> Tensor:
    """Sum over scales of ``mean((D(real) - 1)^2) + mean(D(fake)^2)``."""
    return sum(gan_loss(r, 1.0, 'lsgan') + gan_loss(f, 0.0, 'lsgan') for r, f in zip(real, fake))


@contextmanager
def frozen(module: nn.Module):
    """Parameters of ``module`` without gradients inside the block (the discriminators in the
    generator step: their graph is needed, their gradients are not)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


@MODELS.register_module()
class MUNITLite(BaseModel):
    """DiGA's translator and its training step (module docstring), trained by mmseg's
    ``tools/train.py`` on ``DomainPairDataset`` batches (source images with labels, target
    images) with two optimisers: ``optim_wrapper = dict(constructor='MultiOptimWrapperConstructor',
    generator=..., discriminator=...)``.

    Per iteration (MUNIT's order): the discriminator step on the current translations (computed
    under ``no_grad``), then the generator step.

    Args:
        generator (dict): :class:`MUNITLiteGenerator` arguments.
        discriminator (dict): :class:`MultiScaleDiscriminator` arguments (``in_channels`` is the
            generator's).
        image_size (tuple[int, int]): (H, W) of the training crops; kept in the checkpoint
            (``image_size``) so that a consumer (:class:`LearnedTranslatedView`) can refuse a
            translator trained for other images.
        adv_weight (float): LS-GAN weight (generator and discriminator). Defaults to 0.5.
        cycle_weight (float): Cycle L1 weight. Defaults to 10.
        recon_weight (float): Self-reconstruction L1 weight. Defaults to 0.001; 0 skips it.
        edge_loss (dict, optional): The semantic-edge loss. Defaults to
            ``SemanticEdgeL1Loss(loss_weight=20)``; None: no edge term.
        perceptual_loss (dict, optional): e.g. ``dict(type='VGGPerceptualLoss',
            checkpoint='vgg19.pth', loss_weight=0.1)``. None (default): no perceptual term.
        data_preprocessor (dict): Defaults to a ``DomainDataPreProcessor`` with mean = std =
            127.5, BGR -> RGB, padding to ``image_size`` (labels with 255).
    """
    #: Read by AdaptationDistributedDataParallel: call this model's :meth:`train_step`, with
    #: ``find_unused_parameters`` (the discriminator step does not touch the generator).
    runs_own_train_step = True
    #: ``(optimiser wrapper name, forward mode)`` per step, in order (MUNIT: discriminator first).
    optim_steps = (('discriminator', 'discriminator_loss'), ('generator', 'loss'))

    def __init__(self,
                 generator: Optional[dict] = None,
                 discriminator: Optional[dict] = None,
                 image_size: Tuple[int, int] = (512, 896),
                 adv_weight: float = 0.5,
                 cycle_weight: float = 10.0,
                 recon_weight: float = 0.001,
                 edge_loss: Optional[dict] = dict(type='SemanticEdgeL1Loss', loss_weight=20.0),
                 perceptual_loss: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        image_size = tuple(int(s) for s in image_size)
        if len(image_size) != 2:
            raise ValueError(f'MUNITLite: image_size is (H, W), got {image_size}')
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='DomainDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True,
            pad_val=0, seg_pad_val=255, size=image_size), init_cfg=init_cfg)
        self.generator = MUNITLiteGenerator(**(generator or {}))
        in_channels = (generator or {}).get('in_channels', 3)
        self.discriminator = nn.ModuleDict({
            d: MultiScaleDiscriminator(**dict(discriminator or {}, in_channels=in_channels))
            for d in DOMAINS})
        self.register_buffer('image_size', torch.tensor(image_size))
        self.adv_weight, self.cycle_weight = float(adv_weight), float(cycle_weight)
        self.recon_weight = float(recon_weight)
        self.edge_loss = MODELS.build(edge_loss) if edge_loss else None
        self.perceptual_loss = MODELS.build(perceptual_loss) if perceptual_loss else None

    # ------------------------------------------------------------------ training
    def train_step(self, data, optim_wrapper, ddp=None) -> Dict[str, Tensor]:
        """Discriminator step, then generator step (each ``OptimWrapper`` of the
        ``OptimWrapperDict`` named ``'discriminator'`` / ``'generator'``)."""
        forward = self if ddp is None else ddp
        data = self.data_preprocessor(data, True)
        log_vars = {}
        for name, mode in self.optim_steps:
            if name not in optim_wrapper:
                raise KeyError(f'MUNITLite trains with optim_wrapper entries "generator" and '
                               f'"discriminator", got {list(optim_wrapper.keys())}')
            ow = optim_wrapper[name]
            with ow.optim_context(forward):
                losses = forward(**data, mode=mode)
            parsed, step_vars = self.parse_losses(losses)
            ow.update_params(parsed)
            step_vars[f'loss_{name}'] = step_vars.pop('loss')
            log_vars.update(step_vars)
        return log_vars

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``'loss'``: generator losses; ``'discriminator_loss'``: discriminator losses (both on
        ``{'source': [B, 3, H, W], 'target': ...}`` inputs); ``'tensor'`` / ``'predict'``:
        source images [B, 3, H, W] rendered in the target domain."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'discriminator_loss':
            return self.discriminator_loss(inputs, data_samples)
        if mode in ('tensor', 'predict'):
            x = inputs['source'] if isinstance(inputs, dict) else inputs
            return self.generator.translate(x, 'source', 'target')
        raise RuntimeError(f'MUNITLite: invalid mode {mode!r}')

    def _pair(self, inputs) -> Tuple[Tensor, Tensor]:
        if not isinstance(inputs, dict) or set(DOMAINS) - set(inputs):
            raise ValueError('MUNITLite trains on (source, target) batches: the train dataset '
                             'must be a DomainPairDataset with source and target')
        return inputs['source'], inputs['target']

    def discriminator_loss(self, inputs, data_samples=None) -> Dict[str, Tensor]:
        """``adv_weight`` x LS-GAN loss of each domain's discriminator: real images vs the other
        domain's images translated into it."""
        x_s, x_t = self._pair(inputs)
        with torch.no_grad():
            s2t = self.generator.translate(x_s, 'source', 'target')
            t2s = self.generator.translate(x_t, 'target', 'source')
        d = self.discriminator
        return dict(
            loss_dis_target=self.adv_weight * lsgan_discriminator_loss(d['target'](x_t),
                                                                       d['target'](s2t)),
            loss_dis_source=self.adv_weight * lsgan_discriminator_loss(d['source'](x_s),
                                                                       d['source'](t2s)))

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        """The generator's losses (module docstring)."""
        x_s, x_t = self._pair(inputs)
        g = self.generator
        c_s, c_t = g.encoders['source'](x_s), g.encoders['target'](x_t)
        s2t, t2s = g.decoders['target'](c_s), g.decoders['source'](c_t)
        losses = {}
        with frozen(self.discriminator):
            losses['loss_adv'] = self.adv_weight * (
                lsgan_generator_loss(self.discriminator['target'](s2t))
                + lsgan_generator_loss(self.discriminator['source'](t2s)))
        losses['loss_cycle'] = self.cycle_weight * (
            F.l1_loss(g.translate(s2t, 'target', 'source'), x_s)
            + F.l1_loss(g.translate(t2s, 'source', 'target'), x_t))
        if self.recon_weight:
            losses['loss_recon'] = self.recon_weight * (
                F.l1_loss(g.decoders['source'](c_s), x_s)
                + F.l1_loss(g.decoders['target'](c_t), x_t))
        if self.edge_loss is not None:
            labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples['source']]).long()
            losses[self.edge_loss.loss_name] = self.edge_loss(s2t, x_s, labels)
        if self.perceptual_loss is not None:
            losses[self.perceptual_loss.loss_name] = (self.perceptual_loss(s2t, x_s)
                                                      + self.perceptual_loss(t2s, x_t))
        return losses
