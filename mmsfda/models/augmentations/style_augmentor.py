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

The module and parameter names of the networks (:mod:`.style_networks`) are those of the
published checkpoints (``checkpoint_transformer.pth``: ``state_dict_ghiasi``;
``checkpoint_stylepredictor.pth``: ``state_dict_stylepredictor``; ``checkpoint_embeddings.pth``:
``pbn_embedding_mean``, ``pbn_embedding_covariance``, ``imagenet_embedding_mean``), so they load
without a converter (:meth:`StyleAugmentor.load_weights`).
"""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.pretrained import SCHEME, resolve_pretrained
from .style_networks import StylePredictor, StyleTransformer

#: The three weight files, by role, and the key of the published file that holds each state dict.
WEIGHT_FILES = ('transformer', 'predictor', 'embeddings')
_STATE_KEYS = dict(transformer='state_dict_ghiasi', predictor='state_dict_stylepredictor')
#: ``pretrained://`` names of the published weights (mmsfda/utils/pretrained.py, PRETRAINED).
PUBLISHED_WEIGHTS = dict(
    transformer=SCHEME + 'styleaug_checkpoint_transformer.pth',
    predictor=SCHEME + 'styleaug_checkpoint_stylepredictor.pth',
    embeddings=SCHEME + 'styleaug_checkpoint_embeddings.pth')


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
