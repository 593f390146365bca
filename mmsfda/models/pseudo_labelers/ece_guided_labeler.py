"""ECE-guided class-balanced pseudo-labels of Cal-SFDA (arXiv:2308.03003), offline per round."""
from typing import Optional

import torch
from torch import Tensor

from mmseg.registry import MODELS
from .class_balanced_labeler import ClassBalancedLabeler
from .pseudo_labels import PseudoLabels

_RULES = ('any', 'argmax')


@MODELS.register_module()
class ECEGuidedLabeler(ClassBalancedLabeler):
    """Class-balanced thresholds on reliability-scaled confidences, plus each image's top pixels.

    Round ``r`` (:func:`~mmsfda.engine.pseudo_labeling.label_dataset` calls :meth:`set_round`), two
    passes over the target set:

    1. **Thresholds** (:meth:`accumulate`, :meth:`finalize`). Per image the value net's estimate
       ``e_hat`` gives the reliability ``rho = 1 - e_hat``; the scaled confidence of a pixel is
       ``s = rho * max_c p_c`` and it counts for class ``argmax_c p_c``. ``theta_k`` keeps the top
       ``cb_prop + increment * r`` of class k's scaled confidences over the whole set (streamed
       histograms, see :class:`ClassBalancedLabeler`); a class predicted nowhere gets 0.5.
    2. **Labels** (:meth:`select`), on the raw probabilities:

       * ``mask1``: ``threshold_rule='any'`` (the public code): some class c has
         ``p_c > theta_c``; ``'argmax'``: ``max p > theta_argmax`` (CBST's form). As the thresholds
         were set on ``rho``-scaled values, an unreliable image lowers every threshold.
       * ``mask2``: the image's ``local_prop + increment * r`` most confident pixels (``max p``).
       * label ``argmax p`` on ``mask1 | mask2``, 255 elsewhere; weight 1.

    ``ece_weighting=False`` drops ``rho`` (plain class-balanced thresholds, the ablation). The
    thresholds (a buffer) also give :class:`SymmetricCELoss` its class weights. Whether the paper
    folds ``e_hat`` into the thresholds exactly this way is not known ([U]: the paper's text
    could not be checked): this is the public code's form.

    Args:
        num_classes (int): C.
        cb_prop (float): Class-balanced proportion of round 0. Defaults to 0.15.
        local_prop (float): Per-image proportion of round 0. Defaults to 0.1.
        increment (float): Growth of both proportions per round. Defaults to 0.05.
        max_proportion (float): Upper bound of both proportions. Defaults to 1.0.
        ece_weighting (bool): Scale the statistics by ``1 - e_hat``. Defaults to True.
        threshold_rule (str): ``'any'`` or ``'argmax'``, see above. Defaults to ``'any'``.
        num_bins (int): Histogram bins of the statistics. Defaults to 1000.
        default_threshold (float): Threshold of a class never predicted. Defaults to 0.5.

    Context (keyword arguments of :meth:`accumulate`): ``est_ece`` [B], the value net's estimates,
    given by an :class:`ECEEstimatingEncoderDecoder` teacher.
    """

    def __init__(self,
                 num_classes: int,
                 cb_prop: float = 0.15,
                 local_prop: float = 0.1,
                 increment: float = 0.05,
                 max_proportion: float = 1.0,
                 ece_weighting: bool = True,
                 threshold_rule: str = 'any',
                 num_bins: int = 1000,
                 default_threshold: float = 0.5):
        super().__init__(num_classes, proportion=cb_prop, mode='offline', num_bins=num_bins,
                         default_threshold=default_threshold, proportion_step=increment,
                         max_proportion=max_proportion)
        if threshold_rule not in _RULES:
            raise ValueError(f'threshold_rule must be one of {_RULES}, got {threshold_rule!r}')
        if not 0.0 <= local_prop <= max_proportion:
            raise ValueError(f'local_prop must be in [0, max_proportion], got {local_prop}')
        self.local_prop = float(local_prop)
        self.ece_weighting = ece_weighting
        self.threshold_rule = threshold_rule

    @property
    def current_local_proportion(self) -> float:
        """Per-image proportion of the current round."""
        return min(self.local_prop + self.proportion_step * int(self.round), self.max_proportion)

    def statistic_confidence(self, conf: Tensor, est_ece: Optional[Tensor] = None,
                             **ctx) -> Tensor:
        """``(1 - e_hat) * max p`` per pixel ([B, H, W]); ``e_hat`` is [B]."""
        if not self.ece_weighting:
            return conf
        if est_ece is None:
            raise ValueError('ECEGuidedLabeler(ece_weighting=True) needs the value net\'s estimates '
                             '`est_ece`: the labelling model must be an ECEEstimatingEncoderDecoder '
                             '(a segmentor with an ECEValueHead)')
        est_ece = est_ece.detach().reshape(-1).to(conf)
        if est_ece.numel() != conf.shape[0]:
            raise ValueError(f'est_ece has {est_ece.numel()} values for {conf.shape[0]} images')
        return (1.0 - est_ece.clamp(0.0, 1.0)).view(-1, 1, 1) * conf

    def select(self, probs: Tensor, valid: Tensor, **ctx) -> PseudoLabels:
        if not bool(self.finalized):
            raise RuntimeError('ECEGuidedLabeler labels with dataset thresholds: call reset_stats(), '
                               'accumulate() and finalize() first (label_dataset does)')
        thresholds = self.thresholds.to(probs.device, probs.dtype)
        conf, pred = probs.max(dim=1)
        if self.threshold_rule == 'any':
            mask = (probs > thresholds.view(1, -1, 1, 1)).any(dim=1)
        else:
            mask = conf > thresholds[pred]
        mask |= self._top_pixels(conf, valid, self.current_local_proportion)
        keep = mask & valid
        labels = pred.masked_fill(~keep, self.ignore_index)
        return PseudoLabels(labels=labels, weights=keep.float(), probs=probs,
                            thresholds=self.thresholds.clone(),
                            extras=dict(thresholds=self.thresholds.clone(), confidence=conf,
                                        prediction=pred))

    @staticmethod
    def _top_pixels(conf: Tensor, valid: Tensor, proportion: float) -> Tensor:
        """[B, H, W] bool: per image, the ``proportion`` most confident valid pixels (ties kept)."""
        top = torch.zeros_like(valid)
        for i in range(conf.shape[0]):
            values = conf[i][valid[i]]
            keep = int(proportion * values.numel())
            if keep == 0:
                continue
            kth = values.float().kthvalue(values.numel() - keep + 1).values
            top[i] = valid[i] & (conf[i].float() >= kth)
        return top
