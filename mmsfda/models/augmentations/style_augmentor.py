"""Style augmentation: source images re-rendered in a random artistic style (T2S-DA's DG view).

T2S-DA (arXiv:2305.13752) builds the stylised view of its domain-generalisation form with the
*style augmentation* of Jackson et al. (CVPR-W 2019, arXiv:1809.05375): the arbitrary
style-transfer network of Ghiasi et al. (BMVC 2017, arXiv:1705.06830) driven by a random style
embedding. One call (:meth:`StyleAugmentor.forward`):

1. the **style predictor** (Inception-v3 truncated after ``Mixed_6e``, mean-pooled, one linear
   layer) maps each image to its own 100-d style embedding ``e_image``;
2. a random embedding is drawn from the normal fitted to the Painter-by-Numbers embeddings,
   ``e_random = mu + A z``, ``z ~ N(0, I)``, ``A = U diag(sqrt(s))`` from the SVD of Sigma;
3. ``e = alpha * e_random + (1 - alpha) * e_image`` (alpha 0.5);
4. the **transformer** (conv + InstanceNorm encoder, residual blocks and upsampling convolutions
   whose InstanceNorm scale / shift are linear functions of ``e``, sigmoid output) re-renders the
   image, optionally at ``1 / 2**downsamples`` of its size.

The module and parameter names of :class:`StyleTransformer` and :class:`StylePredictor` are those
of the published checkpoints (``checkpoint_transformer.pth``: ``state_dict_ghiasi``;
``checkpoint_stylepredictor.pth``: ``state_dict_stylepredictor``; ``checkpoint_embeddings.pth``:
``pbn_embedding_mean``, ``pbn_embedding_covariance``, ``imagenet_embedding_mean``), so they load
without a converter (:meth:`StyleAugmentor.load_weights`).
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.pretrained import SCHEME, resolve_pretrained

#: The three weight files, by role, and the key of the published file that holds each state dict.
WEIGHT_FILES = ('transformer', 'predictor', 'embeddings')
_STATE_KEYS = dict(transformer='state_dict_ghiasi', predictor='state_dict_stylepredictor')
#: ``pretrained://`` names of the published weights (mmsfda/utils/pretrained.py, PRETRAINED).
PUBLISHED_WEIGHTS = dict(
    transformer=SCHEME + 'styleaug_checkpoint_transformer.pth',
    predictor=SCHEME + 'styleaug_checkpoint_stylepredictor.pth',
    embeddings=SCHEME + 'styleaug_checkpoint_embeddings.pth')


# ---------------------------------------------------------------------------- transformer
class ConvINReLU(nn.Module):
    """Reflection-padded conv, InstanceNorm (no affine), ReLU: the un-conditioned encoder layer."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.pad = kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: Tensor, style: Optional[Tensor] = None) -> Tensor:
        x = self.conv(F.pad(x, [self.pad] * 4, mode='reflect'))
        return F.relu(F.instance_norm(x))


def conditional_instance_norm(x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """InstanceNorm of ``x`` [B, C, H, W], then per-sample scale / shift ``gamma``, ``beta``
    [B, C] (Ghiasi et al.'s conditional instance normalisation)."""
    return F.instance_norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class StyledResidualBlock(nn.Module):
    """Two 3x3 convs with style-conditioned InstanceNorm (ReLU between), plus the identity."""

    def __init__(self, channels: int, embedding_dim: int = 100):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        for i in (1, 2):
            setattr(self, f'fc_gamma{i}', nn.Linear(embedding_dim, channels))
            setattr(self, f'fc_beta{i}', nn.Linear(embedding_dim, channels))

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        y = self.conv1(F.pad(x, [1] * 4, mode='reflect'))
        y = F.relu(conditional_instance_norm(y, self.fc_gamma1(style), self.fc_beta1(style)))
        y = self.conv2(F.pad(y, [1] * 4, mode='reflect'))
        return x + conditional_instance_norm(y, self.fc_gamma2(style), self.fc_beta2(style))


class StyledUpConv(nn.Module):
    """Optional nearest 2x upsampling, reflection-padded conv, style-conditioned InstanceNorm and
    ReLU (none on the output layer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: bool,
                 relu: bool = True, embedding_dim: int = 100):
        super().__init__()
        self.upsample, self.relu, self.pad = upsample, relu, kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.fc_gamma = nn.Linear(embedding_dim, out_channels)
        self.fc_beta = nn.Linear(embedding_dim, out_channels)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode='nearest')
        x = self.conv(F.pad(x, [self.pad] * 4, mode='reflect'))
        x = conditional_instance_norm(x, self.fc_gamma(style), self.fc_beta(style))
        return F.relu(x) if self.relu else x


class StyleTransformer(nn.Module):
    """Ghiasi et al.'s style-transfer network (arXiv:1705.06830, Sec. 3), in ``layers``:
    3 encoder layers (9x9, 3x3/2, 3x3/2), ``num_res_blocks`` residual blocks, 2 upsampling 3x3
    layers and a 9x9 output layer; the last ``num_res_blocks + 3`` are style-conditioned.

    Args:
        channels (sequence[int]): Encoder widths. (32, 64, 128) in the published network.
        num_res_blocks (int): 5 in the published network.
        embedding_dim (int): 100.
    """
    stride = 4  # two stride-2 encoder layers

    def __init__(self, channels: Sequence[int] = (32, 64, 128), num_res_blocks: int = 5,
                 embedding_dim: int = 100):
        super().__init__()
        c1, c2, c3 = channels
        d = embedding_dim
        self.layers = nn.ModuleList(
            [ConvINReLU(3, c1, 9), ConvINReLU(c1, c2, 3, 2), ConvINReLU(c2, c3, 3, 2)] +
            [StyledResidualBlock(c3, d) for _ in range(num_res_blocks)] +
            [StyledUpConv(c3, c2, 3, True, embedding_dim=d),
             StyledUpConv(c2, c1, 3, True, embedding_dim=d),
             StyledUpConv(c1, 3, 9, False, relu=False, embedding_dim=d)])

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] RGB in [0, 1] (H, W multiples of 4), ``style`` [B, D] ->
        [B, 3, H, W] in (0, 1)."""
        for layer in self.layers:
            x = layer(x, style)
        return torch.sigmoid(x)


# ---------------------------------------------------------------------------- style predictor
class BasicConv2d(nn.Module):
    """Conv (no bias), BatchNorm (eps 1e-3), ReLU: Inception-v3's unit."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _chain(x: Tensor, *convs: nn.Module) -> Tensor:
    for conv in convs:
        x = conv(x)
    return x


class InceptionA(nn.Module):
    """1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (``Mixed_5*``); widths scaled by ``s``."""

    def __init__(self, in_channels: int, pool_features: int, s):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, s(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(s(48), s(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, s(pool_features), kernel_size=1)
        self.out_channels = 2 * s(64) + s(96) + s(pool_features)

    def forward(self, x: Tensor) -> Tensor:
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch5x5_1, self.branch5x5_2),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            self.branch_pool(pool)], 1)


class InceptionB(nn.Module):
    """Grid reduction 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 (``Mixed_6a``)."""

    def __init__(self, in_channels: int, s):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, s(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, s(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(s(64), s(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(s(96), s(96), kernel_size=3, stride=2)
        self.out_channels = s(384) + s(96) + in_channels

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """Factorised 7x7 branches (``Mixed_6b``-``Mixed_6e``), ``channels_7x7`` inner width."""

    def __init__(self, in_channels: int, channels_7x7: int, s):
        super().__init__()
        c7, c192 = s(channels_7x7), s(192)
        row = dict(kernel_size=(1, 7), padding=(0, 3))
        col = dict(kernel_size=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(in_channels, c192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, c192, **col)
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, c192, **row)
        self.branch_pool = BasicConv2d(in_channels, c192, kernel_size=1)
        self.out_channels = 4 * c192

    def forward(self, x: Tensor) -> Tensor:
        pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, *(getattr(self, f'branch7x7dbl_{i}') for i in range(1, 6))),
            self.branch_pool(pool)], 1)


#: Inception's input map from [0, 1] RGB, as the published predictor was trained: torchvision's
#: ImageNet normalisation followed by its conversion to Google's [-1, 1] normalisation. The
#: reference divides the blue channel by 0.255 (not 0.225) in the first step, so blue is not
#: exactly ``2x - 1``; kept, since the weights were fitted with it. ``x -> x * scale + shift``.
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_FIRST_STD = (0.229, 0.224, 0.255)  # sic: the reference's first step
_INCEPTION_SCALE = tuple(s / f / 0.5 for s, f in zip(_TORCH_STD, _FIRST_STD))
_INCEPTION_SHIFT = tuple(-m / f * s / 0.5 + (m - 0.5) / 0.5
                         for m, s, f in zip(_TORCH_MEAN, _TORCH_STD, _FIRST_STD))


class StylePredictor(nn.Module):
    """Inception-v3 up to ``Mixed_6e``, spatial mean, ``fc`` -> the style embedding (Jackson et al.,
    arXiv:1809.05375, Sec. 3; Ghiasi et al., Sec. 3.2).

    Args:
        width (float): Multiplies every Inception width (1.0: the published predictor, 768
            features; e.g. 1/16 for a CPU-sized toy).
        embedding_dim (int): 100.
        min_size (int): Inputs whose shorter side is below this are bilinearly enlarged to it first
            (the unpadded stride-2 layers need >= 75 px, Inception-v3's minimum); the embedding is
            a global mean, so this only matters for tiny test images.
    """

    def __init__(self, width: float = 1.0, embedding_dim: int = 100, min_size: int = 75):
        super().__init__()

        def s(c: int) -> int:
            return max(1, int(round(c * width)))

        self.min_size = int(min_size)
        self.Conv2d_1a_3x3 = BasicConv2d(3, s(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(s(32), s(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(s(32), s(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(s(64), s(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(s(80), s(192), kernel_size=3)
        self.Mixed_5b = InceptionA(s(192), 32, s)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, 64, s)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, 64, s)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, s)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, 128, s)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, 160, s)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, 160, s)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, 192, s)
        self.fc = nn.Linear(self.Mixed_6e.out_channels, embedding_dim)
        self.register_buffer('input_scale', torch.tensor(_INCEPTION_SCALE).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('input_shift', torch.tensor(_INCEPTION_SHIFT).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] RGB in [0, 1] -> [B, D] style embeddings."""
        short = min(x.shape[-2:])
        if short < self.min_size:
            size = [int(round(d * self.min_size / short)) for d in x.shape[-2:]]
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        x = x * self.input_scale + self.input_shift
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                   self.Mixed_6c, self.Mixed_6d, self.Mixed_6e)
        return self.fc(x.mean(dim=(2, 3)))


# ---------------------------------------------------------------------------- the augmentation
@MODELS.register_module()
class StyleAugmentor(nn.Module):
    """Random style transfer of a batch (module docstring), frozen, in eval mode, under no_grad.

    Used as T2S-DA's DG view (``model.pseudo_target`` with ``style_from=None``): called with the
    segmentor's normalised images and its ``mean`` / ``std``; the data preprocessor must convert
    BGR to RGB (the networks see RGB; all our MiT configs do).

    Args:
        transformer (dict): :class:`StyleTransformer` arguments. Default: the published network.
        predictor (dict): :class:`StylePredictor` arguments. Default: the published predictor.
        embedding_dim (int): 100.
        alpha (float): Weight of the random embedding, in [0, 1]; 0: the image's own predicted
            style. Defaults to 0.5.
        downsamples (int): Run the transformer at ``1 / 2**downsamples`` of the input size
            (average pooling), upsampled back bilinearly. Defaults to 0.
        use_predictor (bool): Interpolate with the image's predicted style (True) or with the
            mean ImageNet embedding of ``checkpoint_embeddings.pth`` (False, cheaper).
        detach (bool): Return a tensor without graph (nothing is ever trained through it; the
            reference's default). Defaults to True.
        weights (dict, optional): ``dict(transformer=..., predictor=..., embeddings=...)``: files
            or ``pretrained://`` names of the published checkpoints (:data:`PUBLISHED_WEIGHTS`).
            None: the networks keep their (seeded) random initialisation and the embedding
            distribution is N(0, I) -- for smoke tests and the toy config only (a warning says so).
    """

    def __init__(self, transformer: Optional[dict] = None, predictor: Optional[dict] = None,
                 embedding_dim: int = 100, alpha: float = 0.5, downsamples: int = 0,
                 use_predictor: bool = True, detach: bool = True,
                 weights: Optional[Dict[str, str]] = None):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'StyleAugmentor: alpha must be in [0, 1], got {alpha}')
        if int(downsamples) != downsamples or downsamples < 0:
            raise ValueError(f'StyleAugmentor: downsamples must be an int >= 0, got {downsamples}')
        self.transformer = StyleTransformer(**dict(transformer or {}), embedding_dim=embedding_dim)
        self.predictor = StylePredictor(**dict(predictor or {}), embedding_dim=embedding_dim)
        self.requires_grad_(False)
        self.alpha, self.downsamples = float(alpha), int(downsamples)
        self.use_predictor, self.detach = use_predictor, detach
        d = embedding_dim
        # The Painter-by-Numbers embedding normal (mean [D], covariance [D, D], its factor A with
        # A A^T = Sigma) and the mean ImageNet embedding [D]: buffers, so they travel with the
        # model.
        self.register_buffer('embedding_mean', torch.zeros(d))
        self.register_buffer('embedding_covariance', torch.eye(d))
        self.register_buffer('embedding_factor', torch.eye(d))
        self.register_buffer('imagenet_embedding', torch.zeros(d))
        super().train(False)
        if weights is None:
            print_log('StyleAugmentor without weights: random networks and N(0, I) styles (a smoke '
                      'test, not the paper\'s style augmentation)', logger='current')
        else:
            self.load_weights(**weights)

    def train(self, mode: bool = True):
        """Always eval: the predictor's BatchNorm uses its running statistics."""
        return super().train(False)

    # ------------------------------------------------------------------ weights
    @staticmethod
    def resolve_weights(**files: str) -> Dict[str, str]:
        """Local paths of the weight files (``pretrained://`` names resolved).

        Raises:
            FileNotFoundError: naming every missing file (and, for ``pretrained://`` names, the
                folders searched and where the originals come from).
        """
        paths, missing, detail = {}, [], ''
        for role, name in files.items():
            try:
                path = resolve_pretrained(name) if name.startswith(SCHEME) else name
            except FileNotFoundError as err:
                missing.append(name)
                detail = detail or f'\n{err}'
                continue
            if not osp.isfile(path):
                missing.append(name)
                continue
            paths[role] = path
        if missing:
            raise FileNotFoundError(
                f'StyleAugmentor weights not found: {", ".join(missing)} (model.pseudo_target.'
                f'weights; the published style-augmentation checkpoints, see docs/pretrained.md)'
                + detail)
        return paths

    def load_weights(self, transformer: str, predictor: str, embeddings: str) -> None:
        """Load the three published checkpoint files (paths or ``pretrained://`` names).

        Every tensor of the transformer / predictor must be in its file with this module's
        shape; extra keys are ignored (the reference loads non-strictly).

        Raises:
            FileNotFoundError: a file is missing (all missing files are named).
            ValueError: a key is missing or has another shape (file, key and shapes named).
        """
        paths = self.resolve_weights(transformer=transformer, predictor=predictor,
                                     embeddings=embeddings)
        for role in ('transformer', 'predictor'):
            ckpt = torch.load(paths[role], map_location='cpu', weights_only=False)
            state = ckpt.get(_STATE_KEYS[role], ckpt) if isinstance(ckpt, dict) else {}
            _check_keys(getattr(self, role), state, paths[role], role)
            own = getattr(self, role).state_dict()
            getattr(self, role).load_state_dict({k: state.get(k, v) for k, v in own.items()})
        emb = torch.load(paths['embeddings'], map_location='cpu', weights_only=False)
        needed = ('pbn_embedding_mean', 'pbn_embedding_covariance', 'imagenet_embedding_mean')
        gone = [k for k in needed if not isinstance(emb, dict) or k not in emb]
        if gone:
            raise ValueError(f'StyleAugmentor: {paths["embeddings"]} is not a style-augmentation '
                             f'embeddings checkpoint: key {gone[0]} is missing')
        d = self.embedding_mean.numel()
        mean = emb['pbn_embedding_mean'].reshape(-1)
        cov = emb['pbn_embedding_covariance']
        if mean.numel() != d or tuple(cov.shape) != (d, d):
            raise ValueError(f'StyleAugmentor: {paths["embeddings"]} has {mean.numel()}-d '
                             f'embeddings (covariance {tuple(cov.shape)}), the networks {d}-d')
        self.set_embedding_distribution(mean, cov, emb['imagenet_embedding_mean'].reshape(-1))

    @torch.no_grad()
    def set_embedding_distribution(self, mean: Tensor, covariance: Tensor,
                                   imagenet: Optional[Tensor] = None) -> None:
        """Set N(mean [D], covariance [D, D]) and its factor ``A = U diag(sqrt(s))`` (SVD, float64,
        as the reference) so that ``mu + A z`` has that covariance."""
        u, s, _ = torch.linalg.svd(covariance.double())
        self.embedding_mean.copy_(mean.reshape(-1))
        self.embedding_covariance.copy_(covariance)
        self.embedding_factor.copy_(u * s.clamp_min(0).sqrt())
        if imagenet is not None:
            self.imagenet_embedding.copy_(imagenet.reshape(-1))

    def save_weights(self, directory: str) -> Dict[str, str]:
        """Write this module's weights as the three published files into ``directory``; returns
        ``dict(transformer=path, predictor=path, embeddings=path)`` for :meth:`load_weights`."""
        paths = {r: osp.join(directory, f'checkpoint_{n}.pth') for r, n in
                 (('transformer', 'transformer'), ('predictor', 'stylepredictor'),
                  ('embeddings', 'embeddings'))}
        for role in ('transformer', 'predictor'):
            torch.save({_STATE_KEYS[role]: getattr(self, role).state_dict()}, paths[role])
        torch.save(dict(pbn_embedding_mean=self.embedding_mean[None].clone(),
                        pbn_embedding_covariance=self.embedding_covariance.clone(),
                        imagenet_embedding_mean=self.imagenet_embedding[None].clone()),
                   paths['embeddings'])
        return paths

    # ------------------------------------------------------------------ the augmentation
    def sample_embedding(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """[n, D] draws of ``mu + A z``; ``z`` from ``generator`` (CPU) or torch's global
        generator (seeded per iteration by ``RandomStateHook``: exact resume)."""
        z = torch.randn(n, self.embedding_mean.numel(), generator=generator)
        z = z.to(self.embedding_factor)
        return z @ self.embedding_factor.T + self.embedding_mean

    def image_embedding(self, x: Tensor) -> Tensor:
        """[B, 3, H, W] RGB in [0, 1] -> [B, D]: the predicted style, or the ImageNet mean."""
        if self.use_predictor:
            return self.predictor(x)
        return self.imagenet_embedding.expand(x.shape[0], -1)

    def stylise(self, x: Tensor, embedding: Tensor) -> Tensor:
        """[B, 3, H, W] RGB in [0, 1] rendered with ``embedding`` [B, D] (at ``1/2**downsamples``
        scale); reflect-padded to the network's stride and cropped back."""
        h, w = x.shape[-2:]
        stride = self.transformer.stride * 2**self.downsamples
        ph, pw = -h % stride, -w % stride
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode='reflect' if ph < h and pw < w else 'replicate')
        if self.downsamples:
            x = F.avg_pool2d(x, 2**self.downsamples)
        y = self.transformer(x, embedding)
        if self.downsamples:
            y = F.interpolate(y, scale_factor=2**self.downsamples, mode='bilinear',
                              align_corners=False)
        return y[..., :h, :w]

    def forward(self, img: Tensor, mean: Optional[Tensor] = None, std: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None,
                embedding: Optional[Tensor] = None) -> Tensor:
        """Stylise a batch.

        Args:
            img (Tensor): [B, 3, H, W] RGB, in [0, 1] (``mean``, ``std`` None) or normalised as
                ``(255 x - mean) / std`` (the segmentor's preprocessor).
            mean, std (Tensor, optional): [3] normalisation, 0-255 scale.
            generator (torch.Generator, optional): CPU generator of the random styles.
            embedding (Tensor, optional): [B, D] random style to use instead of a draw.

        Returns:
            Tensor: [B, 3, H, W] stylised images, in ``img``'s scale and dtype.
        """
        normalised = mean is not None
        if normalised != (std is not None):
            raise ValueError('StyleAugmentor: give both mean and std, or neither')
        with torch.set_grad_enabled(not self.detach and torch.is_grad_enabled()):
            x = img.float()
            if normalised:
                m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
                s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
                x = ((x * s + m) / 255.0).clamp(0.0, 1.0)
            base = self.image_embedding(x) if self.alpha < 1 else None
            if self.alpha > 0:
                if embedding is None:
                    embedding = self.sample_embedding(x.shape[0], generator)
                style = embedding.to(x) if base is None else \
                    self.alpha * embedding.to(x) + (1 - self.alpha) * base
            else:
                style = base
            y = self.stylise(x, style)
            if normalised:
                y = (y * 255.0 - m) / s
        y = y.to(img.dtype)
        return y.detach() if self.detach else y


def _check_keys(module: nn.Module, state: dict, filename: str, role: str) -> None:
    """Raise ``ValueError`` naming the file and the key when ``state`` lacks a tensor of
    ``module`` or holds it with another shape."""
    own = module.state_dict()
    # BatchNorm's counter is unused in eval and absent from checkpoints of older PyTorch versions.
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    if missing:
        raise ValueError(
            f'StyleAugmentor: {filename} is not a {role} checkpoint of this architecture: key '
            f'{missing[0]} is missing ({len(missing)} of {len(own)} missing; expected the '
            f'published {_STATE_KEYS[role]} names)')
    for k, v in own.items():
        if k in state and tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(
                f'StyleAugmentor: {filename}: key {k} has shape {tuple(state[k].shape)}, the '
                f'{role} expects {tuple(v.shape)} (model.pseudo_target.{role} arguments differ '
                f'from the checkpoint\'s network)')
