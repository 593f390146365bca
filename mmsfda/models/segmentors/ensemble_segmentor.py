"""Prediction averaging of several trained segmentors (FDA's multi-band transfer, MBT)."""
from typing import List, Optional, Sequence

import torch
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class EnsembleSegmentor(BaseSegmentor):
    """Average the softmax probabilities of ``members`` (same classes, any architectures).

    FDA-MBT (Yang and Soatto, CVPR 2020, arXiv:2004.05498, Sec. 3.2, Eq. 4): three FDA models
    trained with beta 0.01 / 0.05 / 0.09 predict by the mean of their probabilities, and the same
    mean labels the target set for the self-supervised round (no mean teacher). Inference goes
    through mmseg's own path (``predict`` -> ``encode_decode``), whose logits are
    ``log(mean p)`` so that softmax, argmax and calibration metrics see the ensemble's
    probabilities. ``teacher_outputs`` makes it a labelling model for
    :func:`mmsfda.engine.pseudo_labeling.label_dataset` / ``tools/gen_pseudo_labels.py``.

    Args:
        members (list[dict]): Segmentor configs (e.g. three FDA students).
        checkpoints (list[str], optional): One checkpoint per member, loaded by
            :meth:`init_weights` (a checkpoint of a ``SelfTrainingSegmentor``/``FDASegmentor`` gives
            its student, a plain one itself). None: the members stay as built (a checkpoint of the
            ensemble itself can be loaded instead).
        pseudo_labeler (dict, optional): The labeler used when the ensemble labels a target set.
        data_preprocessor (dict, optional): Default: the first member's.
    """

    def __init__(self, members: Sequence[dict], checkpoints: Optional[Sequence[str]] = None,
                 pseudo_labeler: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        if not members:
            raise ValueError('EnsembleSegmentor needs at least one member')
        if checkpoints is not None and len(checkpoints) != len(members):
            raise ValueError(f'{len(members)} members but {len(checkpoints)} checkpoints')
        super().__init__(data_preprocessor=data_preprocessor or members[0].get('data_preprocessor'),
                         init_cfg=init_cfg)
        self.members = nn.ModuleList(MODELS.build(dict(m)) for m in members)
        classes = {m.decode_head.num_classes for m in self.members}
        if len(classes) != 1:
            raise ValueError(f'ensemble members predict different numbers of classes: {classes}')
        self.num_classes = classes.pop()
        self.checkpoints = list(checkpoints) if checkpoints is not None else None
        self.pseudo_labeler = MODELS.build(pseudo_labeler) if pseudo_labeler else None
        self.teacher_mode = 'eval'

    def init_weights(self):
        super().init_weights()
        for member, path in zip(self.members, self.checkpoints or []):
            ckpt = load_checkpoint(member, path, map_location='cpu', strict=False,
                                   revise_keys=[(r'^student\.', '')])
            state = ckpt.get('state_dict', ckpt)
            if not any(k.startswith(('student.', 'backbone.')) for k in state):
                raise ValueError(f'{path}: no segmentor weights (student.* or backbone.* keys)')

    def mean_probs(self, img: Tensor) -> Tensor:
        """[B, C, H, W] mean softmax probabilities at the (padded) input resolution of ``img``."""
        probs = [resize(m.decode_head(m.extract_feat(img)), size=img.shape[2:], mode='bilinear',
                        align_corners=m.align_corners).softmax(1) for m in self.members]
        return torch.stack(probs).mean(0)

    @torch.no_grad()
    def teacher_outputs(self, img: Tensor, metas=None):
        """Labelling API of the adaptation models: ``(mean probabilities, {})``."""
        return self.mean_probs(img), {}

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        probs = self.mean_probs(inputs)
        return probs.clamp_min(1e-12).log()  # softmax(log p) = p

    def extract_feat(self, inputs):
        raise NotImplementedError('an ensemble has no single feature map; use encode_decode')

    def loss(self, inputs, data_samples):
        raise RuntimeError('EnsembleSegmentor only predicts and labels: train its members')

    def predict(self, inputs, data_samples=None):
        if data_samples is not None:
            metas = [s.metainfo for s in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                          pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        logits = resize(self.encode_decode(inputs, metas), size=metas[0]['img_shape'],
                        mode='bilinear', align_corners=False)
        return self.postprocess_result(logits, data_samples)

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs, None)

    @property
    def align_corners(self):
        return False
