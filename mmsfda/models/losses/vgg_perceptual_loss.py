"""VGG19 perceptual L1 between translated and original images (optional term of DiGA's translator).

DiGA's image translator (arXiv:2304.02222, Sec. 3.2; its public code's ``util/loss.py``) adds,
with weight 0.1, the pix2pixHD perceptual loss: L1 between VGG19 features of the translated and
of the original image at relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1, weighted 1/32, 1/16,
1/8, 1/4 and 1. It needs ImageNet VGG19 weights; this environment has no network, so the loss is
built only when a weights file is given (``MUNITLite(perceptual_loss=None)`` leaves it out).

Weights: a torchvision ``vgg19`` state dict (keys ``features.<i>.weight`` / ``.bias``; the
classifier is not needed), optionally under ``state_dict``.
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

# torchvision's VGG19 ('E') feature layers up to relu5_1: output channels, 'M' = max pool.
VGG19_LAYERS = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
                512)
#: Indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1.
RELU_X_1 = (1, 6, 11, 20, 29)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features[:30]`` (through relu5_1), same indices, no weights."""
    layers, c = [], 3
    for v in VGG19_LAYERS:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
            c = v
    return nn.Sequential(*layers)


def load_vgg19_weights(features: nn.Sequential, filename: str) -> None:
    """Fill ``features`` from a torchvision VGG19 state dict file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a key missing or of another shape (names the file and the key).
    """
    import os.path as osp
    if not osp.isfile(filename):
        raise FileNotFoundError(f'VGG19 weights for the perceptual loss not found: {filename}')
    state = torch.load(filename, map_location='cpu', weights_only=False)
    state = state.get('state_dict', state)
    own = {f'features.{k}': v for k, v in features.state_dict().items()}
    for key, v in own.items():
        if key not in state:
            raise ValueError(f'{filename} is not a torchvision VGG19 state dict: key {key} is '
                             f'missing')
        if tuple(state[key].shape) != tuple(v.shape):
            raise ValueError(f'{filename}: key {key} has shape {tuple(state[key].shape)}, VGG19 '
                             f'has {tuple(v.shape)}')
    features.load_state_dict({k[len('features.'):]: state[k] for k in own})


@MODELS.register_module()
class VGGPerceptualLoss(nn.Module):
    """Weighted L1 of frozen VGG19 features (module docstring).

    Args:
        checkpoint (str): torchvision VGG19 weights (required: there is no random-VGG mode).
        layer_weights (tuple[float]): Weights of relu1_1 ... relu5_1. Defaults to pix2pixHD's
            (1/32, 1/16, 1/8, 1/4, 1).
        loss_weight (float): Multiplier. Defaults to 0.1 (DiGA).
        input_range (tuple[float, float]): Value range of the images, mapped to [0, 1] and
            normalised with ImageNet's mean and std before VGG. Defaults to (-1, 1) (the
            translator's tanh output).
    """

    def __init__(self, checkpoint: str, layer_weights: Sequence[float] = (
                 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0), loss_weight: float = 0.1,
                 input_range: Sequence[float] = (-1.0, 1.0)):
        super().__init__()
        if len(layer_weights) != len(RELU_X_1):
            raise ValueError(f'VGGPerceptualLoss: {len(RELU_X_1)} layer weights (relu1_1 ... '
                             f'relu5_1), got {list(layer_weights)}')
        self.features = vgg19_features()
        load_vgg19_weights(self.features, checkpoint)
        self.features.requires_grad_(False).eval()
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.loss_weight = float(loss_weight)
        self.input_range = tuple(float(v) for v in input_range)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # frozen: never in training mode
        return self

    def _feats(self, x: Tensor):
        lo, hi = self.input_range
        x = ((x.float() - lo) / (hi - lo) - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in RELU_X_1:
                out.append(x)
        return out

    def forward(self, translated: Tensor, original: Tensor) -> Tensor:
        """Args: translated, original (Tensor): [B, 3, H, W] in ``input_range`` (the original
        is detached). Returns: scalar."""
        with torch.no_grad():
            target = self._feats(original)
        loss = sum(w * F.l1_loss(a, b)
                   for w, a, b in zip(self.layer_weights, self._feats(translated), target))
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return 'loss_perceptual'
