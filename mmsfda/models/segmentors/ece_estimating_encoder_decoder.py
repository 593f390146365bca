"""An encoder-decoder segmentor with Cal-SFDA's value net (arXiv:2308.03003), estimating its ECE."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..losses.differentiable_ece_loss import differentiable_ece_loss


@MODELS.register_module()
class ECEEstimatingEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` plus an :class:`ECEValueHead` on the backbone features and, with the
    head's ``use_decoder`` (the default), on the decoder's output.

    Training (Cal-SFDA stage 2, ``rl_trainer.py``): per source image the target is the
    differentiable class-level ECE of the current segmentation output (computed by
    :func:`differentiable_ece_loss` with ``ece_cfg``) and the loss is
    ``value_loss_weight * mean_i (e_hat_i - ClassECE_i)^2``. As in the public code the segmentation
    losses are computed and logged (``decode.ce``, ...) but not optimised (``optimize_seg_loss``),
    and the segmenter stays in the graph: it receives gradients through the value net's inputs
    (features, and the decoder's logits if the value net reads them) and through the LogSumExp ECE
    target. ``detach_features`` / ``detach_ece_target``
    cut those paths (a value net trained on a fixed segmenter).

    Inference: every predicted sample carries ``est_ece`` (float) in its metainfo, read by
    :class:`~mmsfda.evaluation.metrics.EstimatedECEMetric` for label-free model selection; with
    ``test_cfg.mode='whole'`` the value net reuses the features of the segmentation pass.
    ``label_context(feats, seg_logits)`` hands the estimates to a pseudo-labeler (``est_ece``,
    [B]). Wherever the decoder's logits of the same pass exist they are handed to the value net;
    without them, a value net that reads the decoder runs the decode head once more.

    Args:
        value_head (dict): Config of the value net (``ECEValueHead``).
        value_loss_weight (float): Weight of the MSE. Defaults to 1.0.
        optimize_seg_loss (bool): Add the decode head's losses to the optimised total. Defaults
            to False (Cal-SFDA's code: logged only).
        detach_features (bool): Value-net inputs (backbone features and decoder logits) without
            gradient to the segmenter. Defaults to False.
        detach_ece_target (bool): ECE target without gradient to the segmenter. Defaults to False.
        ece_cfg (dict, optional): Keyword arguments of :func:`differentiable_ece_loss` for the
            target. Defaults to the paper's ``n_bins=10, lse_t=1e-5, class_level=True,
            average='all'``.
        **kwargs: Arguments of ``EncoderDecoder``.
    """

    def __init__(self,
                 value_head: dict,
                 value_loss_weight: float = 1.0,
                 optimize_seg_loss: bool = False,
                 detach_features: bool = False,
                 detach_ece_target: bool = False,
                 ece_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.value_head = MODELS.build(value_head)
        if self.value_head.num_classes != self.decode_head.num_classes:
            raise ValueError(f'value_head.num_classes ({self.value_head.num_classes}) must equal '
                             f'decode_head.num_classes ({self.decode_head.num_classes})')
        self.value_loss_weight = value_loss_weight
        self.optimize_seg_loss = optimize_seg_loss
        self.detach_features = detach_features
        self.detach_ece_target = detach_ece_target
        self.ece_cfg = dict(n_bins=10, lse_t=1e-5, class_level=True, average='all')
        self.ece_cfg.update(ece_cfg or {})
        if not optimize_seg_loss and detach_features and detach_ece_target:
            # No loss reaches the segmenter: frozen, or DDP waits for its gradients and fails.
            for name, param in self.named_parameters():
                if not name.startswith('value_head.'):
                    param.requires_grad_(False)

    def estimate_ece(self, feats, seg_logits: Optional[Tensor] = None) -> Tensor:
        """Value-net estimates [B].

        Args:
            feats (tuple[Tensor]): Backbone features, as ``extract_feat`` returns them.
            seg_logits (Tensor, optional): ``decode_head(feats)``, [B, C, h, w], if the caller has
                it; computed here when the value net reads the decoder and it is not given.
        """
        if self.value_head.use_decoder and seg_logits is None:
            seg_logits = self.decode_head(feats)
        return self.value_head(feats, seg_logits)

    def label_context(self, feats, seg_logits: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Per-image context for a pseudo-labeler: ``{'est_ece': [B]}`` (see
        :meth:`estimate_ece` for the arguments)."""
        return dict(est_ece=self.estimate_ece(feats, seg_logits))

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Segmentation logits (mmseg's ``mode='tensor'``).

        While the value net is in train mode (a BN statistics warm-up such as
        :class:`BNStatsWarmupHook` puts the chosen BN layers in train mode and runs this forward),
        the value net also runs on the features, so that its BN layer sees the data too.
        """
        feats = self.extract_feat(inputs)
        seg_logits = self.decode_head.forward(feats)
        if self.value_head.bn.training:
            self.estimate_ece(feats, seg_logits)
        return seg_logits

    def loss(self, inputs: Tensor, data_samples) -> dict:

        feats = self.extract_feat(inputs)
        seg_logits = self.decode_head(feats)
        seg_losses = self.decode_head.loss_by_feat(seg_logits, data_samples)
        losses = {}
        if self.optimize_seg_loss:
            losses.update(add_prefix(seg_losses, 'decode'))
            if self.with_auxiliary_head:
                losses.update(self._auxiliary_head_forward_train(feats, data_samples))
        else:
            # Logged only: mmengine sums the items whose name contains 'loss'.
            losses.update({f'decode.{k.replace("loss_", "", 1)}': v.detach()
                           for k, v in seg_losses.items()})
        labels = self.decode_head._stack_batch_gt(data_samples).squeeze(1)
        logits = resize(seg_logits, size=labels.shape[1:], mode='bilinear',
                        align_corners=self.align_corners)
        target = differentiable_ece_loss(logits, labels, **self.ece_cfg)
        if self.detach_ece_target:
            target = target.detach()
        value_in, logits_in = feats, seg_logits
        if self.detach_features:
            value_in, logits_in = [f.detach() for f in feats], seg_logits.detach()
        est = self.estimate_ece(value_in, logits_in)
        losses['value.loss_mse'] = self.value_loss_weight * F.mse_loss(est, target.to(est.dtype))
        losses['value.est_ece'] = est.detach().mean()
        losses['value.class_ece'] = target.detach().mean()
        return losses

    def predict(self, inputs: Tensor, data_samples=None) -> List:
        if data_samples is not None:
            batch_img_metas = [s.metainfo for s in data_samples]
        else:
            batch_img_metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                                    pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
                               ] * inputs.shape[0]
        if self.test_cfg.get('mode', 'whole') == 'whole':  # as EncoderDecoder.whole_inference
            feats = self.extract_feat(inputs)
            raw_logits = self.decode_head.forward(feats)
            seg_logits = self.decode_head.predict_by_feat(raw_logits, batch_img_metas)
            est = self.estimate_ece(feats, raw_logits)
        else:  # sliding windows: the value net sees the whole image once more
            seg_logits = self.inference(inputs, batch_img_metas)
            est = self.estimate_ece(self.extract_feat(inputs))
        results = self.postprocess_result(seg_logits, data_samples)
        for result, e in zip(results, est.float().tolist()):
            result.set_metainfo(dict(est_ece=e))
        return results
