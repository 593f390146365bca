"""Translated views of source images for DiGA's cross-domain mixture: who renders x_s in the
target style.

DiGA (arXiv:2304.02222, Sec. 3.2) takes the translated view from a learned image translator
(``dec_s2t(enc_s(x_s))``). A provider here is any module with the declared interface of
:class:`BaseTranslatedView`; the mixture calls it under ``no_grad``.
"""
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


class BaseTranslatedView(nn.Module):
    """Interface of a translated-view provider.

    Attributes:
        needs_target (bool): Whether :meth:`forward` needs target images (a provider that does
            cannot be used for domain generalisation, where there are none).
    """
    needs_target: bool = False

    def forward(self, img: Tensor, target_img: Optional[Tensor], mean: Tensor, std: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Translate source images.

        Args:
            img (Tensor): [B, 3, H, W] normalised source images.
            target_img (Tensor | None): [B', 3, H, W] normalised target images (None when the
                batch has none).
            mean, std (Tensor): [3] the data preprocessor's normalisation (0-255 scale).
            generator (torch.Generator, optional): CPU generator for random choices.

        Returns:
            Tensor: [B, 3, H, W] translated images, normalised the same way.
        """
        raise NotImplementedError

    def map_checkpoint_keys(self, state_dict: dict, prefix: str, own_prefix: str) -> dict:
        """Rename, in place, the keys of a checkpoint of the provider's own kind (e.g. a
        translator's training checkpoint given as the run's ``load_from``) to ``own_prefix``
        (where the provider sits in the model). Called by the segmentor's
        ``map_checkpoint_keys`` before every load. Default: nothing to rename."""
        return state_dict


@MODELS.register_module()
class FDATranslatedView(BaseTranslatedView):
    """Source images in the Fourier style of **randomly chosen** images of the target batch.

    No training needed (the default provider of our DiGA configs, beside the learned translator
    of the paper). Each source image takes the low-frequency amplitude of a target image drawn
    uniformly from the batch; the translation itself is mmsfda's :class:`FDA` augmentation.

    Args:
        fda (dict): The ``FDA`` config. Defaults to ``dict(type='FDA', beta=0.01)``.
    """
    needs_target = True

    def __init__(self, fda: Optional[dict] = None):
        super().__init__()
        self.fda = MODELS.build(fda or dict(type='FDA', beta=0.01))

    def forward(self, img, target_img, mean, std, generator=None):
        if target_img is None:
            raise ValueError('FDATranslatedView needs target images: the training batch has no '
                             'target branch (use translator=None for domain generalisation)')
        pick = torch.randint(target_img.shape[0], (img.shape[0], ), generator=generator)
        return self.fda(img, target_img[pick.to(target_img.device)], mean, std)
