"""The learned translated view of DiGA's cross-domain mixture: a trained :class:`MUNITLite`.

DiGA (arXiv:2304.02222, Sec. 3.2): ``x_tr = dec_t(enc_s(x_s))``, frozen, under ``no_grad``.
:class:`LearnedTranslatedView` holds the source encoder and the target decoder of a translator
trained by its own config (``configs/diga/diga-translator_*``) and is named in the warm-up config
as ``model.mixture.translator``. Its weights come from

* ``checkpoint=<MUNITLite checkpoint>`` (read when the model is built), or
* ``load_from=<MUNITLite checkpoint>`` of the warm-up run (what ``tools/run_stages.py`` passes
  from the translator stage): :meth:`map_checkpoint_keys` puts the translator's keys under this
  module's name; the rest of the model keeps its initialisation;

and then travel in every checkpoint of the run (resume, the self-training's ``load_from``). A
translator trained for other images (``image_size``) or another architecture (a tensor of another
shape, e.g. other channels) is an error naming the file and the key; a view used without weights
is an error too.
"""
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..augmentations.translated_view import BaseTranslatedView
from .munit_lite import DOMAINS, ContentEncoder, Decoder

#: Keys of a MUNITLite checkpoint this module takes, by its own key prefix.
_PARTS = (('encoder.', 'generator.encoders.{src}.'), ('decoder.', 'generator.decoders.{dst}.'))


@MODELS.register_module()
class LearnedTranslatedView(BaseTranslatedView):
    """Source images rendered in the target domain by a trained :class:`MUNITLite`.

    Needs no target images (``needs_target=False``). The translator sees RGB images in [-1, 1]
    (the MUNITLite config's preprocessor, ``bgr_to_rgb=True``); the segmentor's normalised images
    are mapped there and back with its ``mean`` / ``std``, so its preprocessor must also convert
    BGR to RGB (all our configs do). Inputs whose size is not a multiple of 2^num_downsample are
    reflect-padded and the output is cropped back.

    Args:
        generator (dict): The translator's :class:`MUNITLiteGenerator` arguments (in_channels,
            base_channels, num_downsample, num_res_blocks): must be those it was trained with.
        image_size (tuple[int, int]): (H, W) of the crops the translator must have been trained
            on (compared with the checkpoint's ``image_size``).
        checkpoint (str, optional): A MUNITLite checkpoint (``iter_*.pth`` of its training run).
            None: the weights come from ``load_from`` (or a checkpoint of a run with this view).
        source, target (str): Translation direction. Defaults to source -> target (DiGA).
    """
    needs_target = False

    def __init__(self, generator: Optional[dict] = None,
                 image_size: Tuple[int, int] = (512, 896), checkpoint: Optional[str] = None,
                 source: str = 'source', target: str = 'target'):
        super().__init__()
        if source not in DOMAINS or target not in DOMAINS or source == target:
            raise ValueError(f'LearnedTranslatedView: source and target must be the two of '
                             f'{DOMAINS}, got {source!r} -> {target!r}')
        arch = dict(generator or {})
        self.encoder = ContentEncoder(**arch)
        self.decoder = Decoder(**arch)
        self.encoder.requires_grad_(False)
        self.decoder.requires_grad_(False)
        self.stride = 2 ** arch.get('num_downsample', 2)
        self.direction = dict(src=source, dst=target)
        self.register_buffer('image_size', torch.tensor([int(s) for s in image_size]))
        # True once weights are loaded (from `checkpoint`, load_from or a run's checkpoint).
        self.register_buffer('loaded', torch.tensor(False))
        if checkpoint is not None:
            self.load_translator(checkpoint)

    # ------------------------------------------------------------------ weights
    def translator_keys(self, prefix: str = '') -> Dict[str, str]:
        """``{own key: MUNITLite checkpoint key}`` of every tensor this module takes."""
        out = {}
        for own, theirs in _PARTS:
            for k in getattr(self, own[:-1]).state_dict():
                out[own + k] = prefix + theirs.format(**self.direction) + k
        out['image_size'] = f'{prefix}image_size'
        return out

    def load_translator(self, filename: str) -> None:
        """Load the weights of a MUNITLite checkpoint file (errors name the file and the key)."""
        if not osp.isfile(filename):
            raise FileNotFoundError(f'translator checkpoint not found: {filename} '
                                    f'(model.mixture.translator.checkpoint)')
        ckpt = torch.load(filename, map_location='cpu', weights_only=False)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
        keys = self.translator_keys()
        missing = [theirs for theirs in keys.values() if theirs not in state]
        if missing:
            raise ValueError(f'translator checkpoint {filename} is not a MUNITLite checkpoint of '
                             f'this direction: key {missing[0]} is missing ({len(missing)} '
                             f'missing)')
        entries = {own: state[theirs] for own, theirs in keys.items()}
        self.check_checkpoint(entries, filename, names=keys)
        self.load_state_dict(dict(entries, loaded=torch.tensor(True)))

    def check_checkpoint(self, entries: Dict[str, Tensor], filename: Optional[str],
                         names: Optional[Dict[str, str]] = None) -> None:
        """Refuse translator weights for other images or another architecture.

        Called by :mod:`mmsfda.compat` before any checkpoint loads into a model with this view
        (``entries``: the checkpoint's tensors under this module's name).

        Raises:
            ValueError: naming the file, the key and both values / shapes.
        """
        if not entries:
            return
        names = names or {own: f'mixture.translator.{own} (MUNITLite key {theirs})'
                           for own, theirs in self.translator_keys().items()}
        where = f'translator checkpoint {filename or "<in memory>"}'
        size = entries.get('image_size')
        if size is not None and not torch.equal(size.cpu().long(), self.image_size.cpu()):
            raise ValueError(
                f'{where}: key {names.get("image_size", "image_size")} says it was trained on '
                f'{tuple(size.tolist())} crops, model.mixture.translator.image_size is '
                f'{tuple(self.image_size.tolist())}: train a translator for these images')
        own = self.state_dict()
        for k, v in entries.items():
            if k in own and tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(
                    f'{where}: key {names.get(k, k)} has shape {tuple(v.shape)}, '
                    f'model.mixture.translator expects {tuple(own[k].shape)}: its generator '
                    f'(in_channels, base_channels, num_downsample, num_res_blocks) differs from '
                    f'the translator\'s')

    def map_checkpoint_keys(self, state_dict: dict, prefix: str, own_prefix: str) -> dict:
        """Put a MUNITLite checkpoint's keys (``load_from`` of the run) under ``own_prefix``.

        A state dict with ``generator.encoders.*`` keys and none of this module is a translator
        checkpoint: the tensors this module takes are renamed (``loaded`` set), the translator's
        other tensors (the other encoder/decoder, the discriminators) are dropped. Other state
        dicts are left alone. In place; returns ``state_dict``.
        """
        theirs = f'{prefix}generator.encoders.'
        if not any(k.startswith(theirs) for k in state_dict) or any(
                k.startswith(own_prefix) for k in state_dict):
            return state_dict
        keys = self.translator_keys(prefix)
        for own, key in keys.items():
            if key in state_dict:
                state_dict[own_prefix + own] = state_dict.pop(key)
        for k in [k for k in state_dict
                  if k.startswith((f'{prefix}generator.', f'{prefix}discriminator.'))]:
            del state_dict[k]
        state_dict[own_prefix + 'loaded'] = torch.tensor(True)
        return state_dict

    # ------------------------------------------------------------------ the view
    def forward(self, img, target_img, mean, std, generator=None):
        """[B, 3, H, W] normalised source images -> the same in the target style (see
        :class:`BaseTranslatedView`)."""
        if not bool(self.loaded):
            raise RuntimeError('LearnedTranslatedView has no weights: set '
                               'model.mixture.translator.checkpoint=<MUNITLite checkpoint> or '
                               'load_from=<MUNITLite checkpoint>')
        mean, std = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
        x = (img * std + mean) / 127.5 - 1.0
        h, w = x.shape[-2:]
        ph, pw = -h % self.stride, -w % self.stride
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode='reflect')
        with torch.no_grad():
            y = self.decoder(self.encoder(x))[..., :h, :w]
        return ((y + 1.0) * 127.5 - mean) / std
